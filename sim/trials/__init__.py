"""Trial planning: power and sample size of trials simulated from the pathway.

A trial specification (``scenarios/trials/*.toml``) names a base scenario, the design
(``two_arm``: a control and an experimental arm, each an override of the scenario;
``single_arm``: one arm against a historical value; ``multi_arm``: several experimental
arms against a shared control, ``sim.trials.multiarm``), allocation, accrual, dropout, the
follow-up rule, the endpoint and its test, alpha, the target power, optional interim
analyses and a grid of total sample sizes. :func:`simulate_trials` simulates K whole
trials; :func:`power_curve` turns them into power (with Monte Carlo error) per sample
size, a searched sample size with its own Monte Carlo error, and the analytic answer.

How one simulated trial is built (every random number has an address)
-----------------------------------------------------------------------------------
* Trial ``k`` (0-based) of a run with largest size ``N`` consists of patients
  ``k N .. k N + N - 1``. Trials are therefore independent, adding trials changes no
  earlier trial, and the trial of size ``n <= N`` is the first ``n`` randomised
  patients of the size-``N`` trial (nested designs: common random numbers across sizes,
  so the simulated power curve is smooth and close to monotone in ``n``).
* Each patient is simulated by the kernel's per-patient function under the parameters
  of the arm it is randomised to, at its own address (the same (seed, replicate,
  patient) address in either arm: common random numbers between arms; with identical
  arms a patient's outcome does not depend on its arm, so the null hypothesis holds
  exactly). The record equals what ``run_kernel`` gives that patient under that arm.
* Trial-level draws use decision ``Decision.TRIAL`` (``sim.model.states``) at
  the patient's own address: lane 0 randomisation (arm B, the experimental arm, iff
  ``u < ratio / (1 + ratio)``; every patient of a single-arm trial is in B), lane 1 the
  accrual gap before the patient, lane 2 an exponential dropout time
  (``dropout_rate_per_year`` is a hazard per patient-year).
* Accrual is a Poisson process, the first patient randomised on day 0. Piecewise
  accrual: rates ``per_month = [r1, r2, ..., rm]`` over periods ending at
  ``period_months = [e1, ..., e(m-1)]`` months from the first randomisation, the last
  rate continuing; a patient's gap is the inverse of the cumulative intensity at the
  exponential draw of lane 1 (with one rate this is ``-log(u) / rate``).
* Endpoint time is from randomisation = the decision to treat (t = 0 of the records):
  OS = death from any cause, EFS = ``t_efs_days`` (see ``sim.outcomes.summary``).
  Binary endpoints (first infusion): ``cr_rate`` = CR (MRD+ or MRD-) at the day-28
  assessment, over every randomised patient (intention to treat: a patient not
  infused, dead before the assessment, lost before it, or not yet assessed at the
  cut-off counts as a non-responder); ``crs_grade3plus_rate`` = grade >= 3 CRS over the
  safety population (patients infused before their censoring time).
* Follow-up rules (the data cut-off, in days from the first randomisation; each
  patient is censored at the earlier of the cut-off and its dropout, and patients
  randomised after the cut-off are not in the analysis; an event counts when it comes
  no later than the dropout and its calendar day no later than the cut-off):
  ``min_followup``: last randomisation + ``min_followup_days``;
  ``calendar``: ``cutoff_days``;
  ``events`` (survival endpoints): the calendar day of the D-th observed event
  (``events = D``); if fewer than D events occur by the last randomisation +
  ``max_followup_days``, the analysis happens then, and the trial is reported as not
  having reached D. Duration = first randomisation to cut-off.
* Interim analyses (``[interim] fractions``, rule ``events`` only) at ``ceil(f D)``
  events, each at the calendar day of that event (a look whose event count is never
  reached is skipped); efficacy boundaries from Lan-DeMets alpha spending
  (``sim.trials.spending.SequentialPlan``), recomputed for every simulated trial at
  the events it observed at its looks: interim k spends ``alpha(d_k / D)``, the final
  analysis whatever is left, so a trial that ends short of D keeps level alpha. A
  trial stops at the first look whose statistic crosses its boundary (two-sided:
  ``|z|`` against the boundary for alpha / 2 per side; the small chance of crossing the
  opposite side first is ignored, as in the usual symmetric design).
* Rate endpoints (two-arm ``chisq`` on the CR or grade >= 3 CRS rate, rule
  ``min_followup``) take interims too: look k falls on the day the ``ceil(f_k n)``-th
  patient enters the denominator (the information is the patients assessed, the
  planned maximum n), the final analysis at the rule's cut-off; the chi-square z is
  compared with boundaries recomputed in the same way.
* Optional non-binding futility at the interims: ``futility`` (beta spending, "obf" or
  "pocock", with beta = 1 - power under the design hazard ratio ``futility_hr``) or
  ``futility_z`` (fixed thresholds). A trial whose favourable statistic is at or
  below the bound stops without rejecting; the efficacy boundaries ignore futility, so
  the type I error can only fall. The analytic D beside the simulation
  (``analytic_events_group_sequential``) is Schoenfeld's unrounded D times the
  inflation factor of the design solved for power with its futility boundary obeyed
  (``sim.trials.gsdesign``, as rpact), rounded once; ``follow_up.events = "solve"``
  with ``design_hr`` makes that solved D the trial's own.
* The ``fh`` weighted log-rank takes interims too: alpha is spent at the event fraction
  and the looks correlate as the trial's own weighted variances, ``sqrt(V_j / V_k)``
  (futility only as fixed ``futility_z``: beta spending protects a hazard ratio).
  MaxCombo takes interims the same way: its FH statistics at every look are jointly
  normal (look k's ``sum w_i w_j v`` over ``sqrt(V_i(k) V_j(l))`` for looks k <= l),
  and each look's boundary on the largest statistic spends its alpha under that joint
  normal (``sim.stats.maxcombo.sequential_bounds``; at most 13 statistics over all
  looks). RMST and milestone tests have no interims here.
* ``[adaptive]`` (rule ``events``, log-rank): one interim, conditional power and event
  re-estimation with a weighted inverse-normal test, optionally an efficacy stop at the
  interim (``efficacy`` = "obf" or "pocock"; ``sim.trials.adaptive``).
* Multi-arm trials allocate equally or by ``[allocation] weights`` (control first).
* Two-arm survival specs without interims carry each test's analytic power beside the
  simulated one, from the arms' curves (a large simulated cohort) by the tests'
  asymptotic normal approximations (``sim.trials.nph_analytic``, ``sim.stats.nph_power``).

Tests (all computed in compiled code for every trial and size at once)
---------------------------------------------------------------------
``logrank``: Mantel-Haenszel log-rank (as lifelines), ``z = (O_B - E_B) / sqrt(V)``.
``cox``: Wald test of the Cox model's log hazard ratio (Efron ties, as lifelines'
default), ``cox_score``: its score test at beta = 0 (``sim.stats.cox``).
``chisq`` / ``chisq_yates`` / ``fisher``: tests of two proportions
(``sim.stats.proportions``). Single arm: ``binomial`` (exact, one-sided),
``simon`` (the Simon two-stage design for p0 and p1, optimal or minimax, run on the
first n1 then n patients), ``logrank1`` (one-sample log-rank against an exponential
historical curve: ``z = (O - E) / sqrt(E)``, E the historical cumulative hazard summed
over the patients' follow-up), ``predictive`` (Bayesian predictive-probability
monitoring, ``sim.trials.predictive``). Non-proportional hazards (two-arm survival):
``fh`` (Fleming-Harrington G(rho, gamma) weighted log-rank), ``maxcombo`` (the
largest of several FH statistics, multivariate-normal p-value; ``sim.stats.maxcombo``),
``rmst`` (restricted mean survival difference to ``tau_months``) and ``milestone``
(Kaplan-Meier survival difference at ``milestone_months``; both from the compiled
Kaplan-Meier of ``sim.stats.weighted``). Survival and CRS endpoints favour the experimental arm
when its statistic is low (fewer events), the CR rate when it is high; one-sided
p-values test in the favourable direction; a trial rejects when ``p < alpha``.

Modules: ``spec`` (the parsed and checked specification), ``simulate`` (compiled trial
simulation), ``analyse`` (compiled analysis), ``results`` (result classes),
``search`` (power curve, sample-size search, assurance), ``designs`` (analytic designs,
Simon), ``spending`` (alpha/beta spending), ``gsdesign`` (designs solved for power with
futility), ``predictive``, ``adaptive``, ``multiarm``, ``compare`` (``--compare-tests``),
``nph_analytic`` (analytic power from the pathway's curves) and ``weights`` (the FH
weights of a spec). This package reads no files: the spec
arrives as a parsed dict (``sim.io``, via ``sim.api.trials``). It may import
``sim.outcomes``, ``sim.stats``, ``sim.engine`` and ``sim.model``.
"""
