"""Every numerical tolerance of lrcount, each with the reason for its value.

They are in one place so that a change to one is seen beside the others it must stay
consistent with: the definition's epsilon above the LP tolerance, SCIP's looser tolerance below
what its big-M constants keep from zero, the engines' clearances above the LP tolerance. Units
are those of the unit-scaled chart (the domain's largest inscribed ball is the unit ball)
unless a name ends in ``RTOL`` (relative) or says otherwise.
"""

# -- What counts as a region (lrcount.region; docs/counting.md) --------------------------------
#: Smallest inscribed radius of a region, relative to the domain's inscribed radius.
EPSILON = 1e-8
#: Feasibility tolerance of the LPs that decide regions (HiGHS), in unit-scaled chart units.
FEASTOL = 1e-10
#: The split engine's dense simplex (lrcount.simplex): a ratio-test entry below this is not a
#: pivot, and a basis whose elimination meets a smaller pivot is singular (its rows are unit
#: norm and its coordinates unit-scaled, so this is far below any real pivot, far above rounding).
PIVOT_TOL = 1e-9
#: ... and two ratios closer than this are tied (Bland's rule then takes the lowest row).
RATIO_TIE = 1e-12
#: A gradient below this, relative to what it would be without cancellation, is zero.
CONSTANT_RTOL = 1e-12
#: A neuron whose zero set lies farther than this from the centre of the unit-scaled chart
#: keeps one sign on the domain, which :meth:`Chart.unit_scaled` keeps within
#: :data:`MAX_EXTENT`; its offset divided by its gradient's norm may overflow.
BEYOND_REACH = 1e150
#: LP duals above this, relative to the largest, mark a row as binding.
DUAL_RTOL = 1e-9

# -- Domains (lrcount.domain) ------------------------------------------------------------------
#: A domain whose largest inscribed ball is smaller than this, relative to its bounding box,
#: is called empty (it has no interior in floating point).
INTERIOR_RTOL = 1e-12
#: Subspace points whose shortest spanned direction is below this, relative to their largest
#: coordinate, are (nearly) affinely dependent: their differences keep fewer than 7 digits.
DEPENDENCE_RTOL = 1e-9
#: The largest extent of a domain in units of its inscribed radius: the engines' numbers then
#: stay far from overflow, and a hyperplane beyond :data:`BEYOND_REACH` cannot
#: cross the domain.
MAX_EXTENT = 1e100

# -- Pre-activation bounds (lrcount.preact) ----------------------------------------------------
#: LP bounds are loosened by this fraction of the interval bound's width.
LP_SLACK = 1e-7
#: A lower bound above this fraction of ``|w| max(|h|) + |b|`` (the size of the terms it sums)
#: makes a neuron active: far above rounding, and above the relative threshold at which
#: :mod:`lrcount.region` calls a constant neuron on (``CONSTANT_RTOL``).
ACTIVE_RTOL = 1e-9

# -- The SCIP model (lrcount.milp) -------------------------------------------------------------
#: SCIP's feasibility tolerance: it only proposes candidates, which the LPs then certify, so a
#: looser tolerance can add rejected candidates but never lose a region, while a tighter one
#: lets its propagation and scaled LPs lose regions of networks with layers of mixed scales
#: (docs/counting.md).
MILP_FEASTOL = 1e-7
#: Smallest distance of a big-M constant from zero (balanced pre-activation units): a thousand
#: times SCIP's feasibility tolerance.
BIG_M_FLOOR = 1e3 * MILP_FEASTOL

# -- The splitting engines (lrcount.engines) ---------------------------------------------------
#: Relative padding of a bounding box from LPs, far above their feasibility tolerance.
BOX_PAD = 1e3 * FEASTOL
#: A vertex within this distance of a hyperplane (unit-scaled chart units) is taken to lie on
#: it, and a solved vertex farther than this from where its edge crosses is ill-conditioned.
ON_PLANE = FEASTOL
#: How far (unit-scaled chart units) the rows of a domain that is not a simple polytope are
#: moved outwards, at random, to make it one (data subspaces of MNIST have vertices on 17 rows).
DOMAIN_SLACK = 1e-6
#: A vertex closer than this to a line of the layer it is not on (unit-scaled chart units)
#: makes its cell degenerate for planar's arrangement; the cell is then split neuron by neuron,
#: where such a vertex lies on the line (``FEASTOL``).
CLEARANCE = 100 * FEASTOL
#: Two lines at an angle with a sine below this that cross in a cell make it degenerate.
MIN_SINE = 1e-8
#: A face whose inscribed radius is surely below this makes its cell degenerate: lines that
#: nearly meet at one point, or nearly parallel ones, leave faces whose vertices may be off by
#: more than the face is wide.
THIN = 10 * CLEARANCE
