"""Decision analysis on simulated costs and QALYs, as pure functions of arrays.

``decision``: the efficient frontier (strong and extended dominance), ICERs, net
monetary and net health benefit, paired incremental estimates with intervals, and
cost-effectiveness acceptability curves and frontier (CEAC, CEAF).
``voi``: the value of information, EVPI, EVPPI by regression (nonparametric
metamodels of net benefit on the parameters of interest) with its standard error, and
EVSI by regression on simulated trial summaries.

Costs and QALYs come from the walk's economic block (``sim.engine.economy``); nothing
here simulates or reads files.
"""
