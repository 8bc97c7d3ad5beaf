"""One worker of an example's stage trained with `model.fit` across workers.

Run the same command on every worker; `TF_CONFIG` (set by the cluster's
launcher) says which worker this process is. Without `TF_CONFIG` it trains in
this one process (the reference the multi-worker runs are compared with).

    TF_CONFIG='{"cluster": {"worker": ["host1:2222", "host2:2222"]},
                "task": {"type": "worker", "index": 0}}' \\
    python -m examples.scale_out.train --example dense --stage 1 \\
        --epochs 3 --steps-per-epoch 4 --output /shared/weights.npz

The model is the stage's `build_model()` compiled as the examples train
(softmax cross-entropy, SGD at the curriculum's learning rate; the model's
regularization losses are added by Keras), under
`tf.distribute.MultiWorkerMirroredStrategy` with `tf1shim.install()`'s
repair of Keras 3's `fit`. Each epoch is the same `--steps-per-epoch` global
batches of `--global-batch` digits, in file order; each worker reads its
share of every global batch (`AutoShardPolicy.DATA`). The chief alone writes
`--output` (the weights by variable path, `.npz`) and the backups
(`--backup-dir`, `tf1shim.distribute.BackupAndRestore`: a restarted cluster
resumes from the last epoch backed up).
"""

import argparse
import json
import os
import sys
import time


def parse_args(argv):
  parser = argparse.ArgumentParser(
      prog="python -m examples.scale_out.train",
      description="Train an example's stage with model.fit on the workers "
      "of TF_CONFIG (or in this process without it).")
  parser.add_argument("--example", default="dense",
                      help="an example of examples/ (default: dense)")
  parser.add_argument("--stage", default="1",
                      help="1-4 or a stage module name (default: 1)")
  parser.add_argument("--epochs", type=int, default=2)
  parser.add_argument("--steps-per-epoch", type=int, default=4)
  parser.add_argument("--global-batch", type=int, default=24,
                      help="examples per step over all workers; a multiple "
                      "of the number of workers (default: 24)")
  parser.add_argument("--output", help="the final weights (.npz), written "
                      "by the chief")
  parser.add_argument("--initial-weights", help="start from these weights "
                      "(.npz as --output writes) instead of the seeded "
                      "initializers")
  parser.add_argument("--save-initial-weights", help="write the initial "
                      "weights (.npz) before training (the chief only)")
  parser.add_argument("--backup-dir", help="back up every epoch there and "
                      "resume from it (a folder every worker sees)")
  parser.add_argument("--data-dir", help="TFDS data folder (default: the "
                      "pipeline's)")
  parser.add_argument("--seed", type=int, default=0)
  # For the fault-tolerance test: after training step N (counted from 1
  # over the whole run), write this marker file and stop as if frozen, until
  # killed.
  parser.add_argument("--hold-after-step", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--hold-marker", help=argparse.SUPPRESS)
  return parser.parse_args(argv)


def stage_module(example_name, stage):
  import importlib  # pylint: disable=g-import-not-at-top
  from examples.curriculum import example  # pylint: disable=g-import-not-at-top
  if example_name not in example.EXAMPLES:
    raise ValueError("unknown example %r; the examples are: %s" %
                     (example_name, ", ".join(example.EXAMPLES)))
  if stage.isdigit():
    number = int(stage)
    if not 1 <= number <= len(example.STAGE_MODULES):
      raise ValueError("--stage %s: the stages are 1-%d" %
                       (stage, len(example.STAGE_MODULES)))
    stage = example.STAGE_MODULES[number - 1]
  if stage not in example.STAGE_MODULES:
    raise ValueError("unknown stage %r; the stages are 1-4 or %s" %
                     (stage, ", ".join(example.STAGE_MODULES)))
  return importlib.import_module("examples.%s.%s" % (example_name, stage))


def read_weights(path):
  import numpy as np  # pylint: disable=g-import-not-at-top
  with np.load(path) as data:
    return {name: data[name] for name in data.files}


def weight_values(model):
  """The model's weights by variable path. Every worker must call it: a
  variable synchronized on read (TF1 batch norm's moving averages under a
  strategy) is read with an all-reduce that needs all of them."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  values = {v.path: np.asarray(v.numpy()) for v in model.weights}
  if len(values) != len(model.weights):
    raise ValueError("%s: two weights share a path" % model.name)
  return values


def write_weights(values, path):
  """`weight_values(...)` written to `path` (.npz) atomically."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  partial = path + ".partial.npz"
  np.savez(partial, **values)
  os.replace(partial, path)


def set_weights(model, path):
  values = read_weights(path)
  paths = [v.path for v in model.weights]
  if sorted(paths) != sorted(values):
    raise ValueError(
        "%s holds weights %s; the model has %s" %
        (path, ", ".join(sorted(values)), ", ".join(sorted(paths))))
  for variable in model.weights:
    variable.assign(values[variable.path])


def _hold_callback(keras, step, marker):
  class HoldAfterStep(keras.callbacks.Callback):

    def __init__(self):
      super().__init__()
      self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
      self.steps += 1
      if self.steps == step:
        with open(marker, "w") as f:
          f.write(str(os.getpid()))
        while True:  # Until killed.
          time.sleep(60)

  return HoldAfterStep()


def global_batches(args, data_dir):
  """The epoch's global batches, identical on every worker."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from examples.data import pipeline  # pylint: disable=g-import-not-at-top
  batches = pipeline.numpy_batches("train", args.steps_per_epoch,
                                   args.global_batch, data_dir=data_dir)
  images = np.concatenate([x for x, _ in batches])
  labels = np.concatenate([y for _, y in batches])
  dataset = tf.data.Dataset.from_tensor_slices((images, labels))
  dataset = dataset.batch(args.global_batch)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options), images


def train(args):
  """Trains; returns a one-line summary (dict)."""
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  import tf1shim.distribute  # pylint: disable=g-import-not-at-top
  from examples.curriculum import training  # pylint: disable=g-import-not-at-top

  tf1shim.install()  # Repairs Keras 3's fit across workers.
  module = stage_module(args.example, args.stage)
  multi_worker = bool(os.environ.get("TF_CONFIG"))
  strategy = (tf.distribute.MultiWorkerMirroredStrategy() if multi_worker
              else tf.distribute.get_strategy())
  workers = strategy.num_replicas_in_sync
  if args.global_batch % workers:
    raise ValueError(
        "--global-batch %d is not a multiple of the %d workers: Keras "
        "averages the replicas' mean losses, equal to the global batch's "
        "mean only for equal shares" % (args.global_batch, workers))
  dataset, images = global_batches(args, args.data_dir)
  chief = tf1shim.distribute.is_chief(strategy)

  keras.utils.set_random_seed(args.seed)
  with strategy.scope():
    model = module.build_model()
    model(images[:1], training=False)  # Creates the (TF1) variables.
    if args.initial_weights:
      set_weights(model, args.initial_weights)
    model.compile(
        optimizer=keras.optimizers.SGD(training.LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
  if args.save_initial_weights:
    initial = weight_values(model)  # On every worker (see weight_values).
    if chief:
      write_weights(initial, args.save_initial_weights)

  callbacks = []
  if args.backup_dir:
    callbacks.append(tf1shim.distribute.BackupAndRestore(args.backup_dir))
  if args.hold_after_step:
    callbacks.append(_hold_callback(keras, args.hold_after_step,
                                    args.hold_marker))
  history = model.fit(dataset, epochs=args.epochs, callbacks=callbacks,
                      verbose=0)
  if args.output:
    final = weight_values(model)  # On every worker (see weight_values).
    if chief:
      write_weights(final, args.output)
  return {"workers": workers, "chief": chief,
          "epochs_run": len(history.history.get("loss", [])),
          "loss": [round(v, 6) for v in history.history.get("loss", [])]}


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  try:
    summary = train(args)
  except (ValueError, OSError) as e:
    print("examples.scale_out.train: error: %s" % e, file=sys.stderr)
    return 1
  print("scale_out " + json.dumps(summary), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
