"""tf1shim.distribute: Keras 3 models, shimmed or native, across workers.

* `multi_worker_repair.apply()` (called by `tf1shim.install()`): Keras 3's
  `model.fit`, `evaluate` and `predict` under
  `tf.distribute.MultiWorkerMirroredStrategy`, which Keras 3.15 fails on
  more than one worker.
* `BackupAndRestore`: Keras's fault-tolerance callback, its backups written
  by the chief only.
* `is_chief()`: whether this process writes checkpoints.
* `parameter_server.train`: a compiled model's training steps under
  `ParameterServerStrategy`, which Keras 3's `fit` does not support.

See core/README.md, "Distribution".
"""

from tf1shim.distribute import multi_worker_repair
from tf1shim.distribute import parameter_server
from tf1shim.distribute.backup import BackupAndRestore
from tf1shim.distribute.backup import is_chief

__all__ = ["BackupAndRestore", "is_chief", "multi_worker_repair",
           "parameter_server"]
