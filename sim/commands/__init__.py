"""The sub-commands of ``cartsim``, one module per group: options, progress bars and
tables only. The work is done by ``sim.api``; commands may import everything below it.
"""
