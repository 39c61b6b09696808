"""WHAT the pathway is: the states and decisions (one enum, ``states``), the parameters
and their table (``parameters``), parameter sets and scenarios, run limits, the record
columns (``outputs``), the endpoints reported about them, one name each (``endpoints``),
input errors, the uncertainty distributions and the posterior
sample.

Plain Python: it imports nothing of ``sim`` outside this package (never the engine).
Parsing a dict is its job, reading a file is ``sim.io``'s (the posterior sample's
Parquet reader in ``posterior`` is the one exception still here).
"""
