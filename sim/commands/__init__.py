"""The sub-commands of ``cartsim``, one module per group."""
