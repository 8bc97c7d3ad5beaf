"""A differential corpus of TF1 idioms from public TF1 code (issue 11).

Each module holds the idioms of one failure class of issue 11 (see
`registry.CLASSES`); importing the package registers them all in
`registry.IDIOMS`. The test is tests/tf1_idioms_test.py.
"""

from tf1_idioms import baseline  # noqa: F401
from tf1_idioms import collections_idioms  # noqa: F401
from tf1_idioms import graph_habits  # noqa: F401
from tf1_idioms import layers_idioms  # noqa: F401
from tf1_idioms import mixed_precision  # noqa: F401
from tf1_idioms import rnn  # noqa: F401
from tf1_idioms import scopes  # noqa: F401
from tf1_idioms import variables  # noqa: F401
from tf1_idioms.registry import CLASSES  # noqa: F401
from tf1_idioms.registry import IDIOMS  # noqa: F401
from tf1_idioms.registry import make_inputs  # noqa: F401
from tf1_idioms.registry import MODES  # noqa: F401
