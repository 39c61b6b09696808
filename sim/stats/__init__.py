"""Statistics that know nothing of the pathway: Kaplan-Meier with the beyond-data rule
(``survival``), Aalen-Johansen cumulative incidence (``incidence``), the compiled
weighted Kaplan-Meier / Aalen-Johansen pass of many weightings at once (``weighted``,
tested against those two), Cox regression
(``cox``) and tests of proportions (``proportions``).

Imports numpy, scipy and numba only; of ``sim`` at most ``sim.model.errors``.
"""
