"""TensorBoard event files of the course: one run per example and row.

    DIR/<example>/<row>/events.out.tfevents...

with the scalar `train_loss` at every step (the loss each step computed,
before its update) and `test_accuracy` at the last step, so
`tensorboard --logdir DIR` overlays the stages of an example. Row folders
sort in table order: `0_tf1_graph`, `1_stage1_functional_v1`, ...
"""

import os

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

# TensorBoard's scalar plugin's metadata, written without TensorBoard
# installed (`tf.summary.scalar` needs it; `tf.summary.write` does not).
SCALAR = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


def _scalar(tag, value, step):
  tf.summary.write(tag, tf.constant(value, tf.float32), step=step,
                   metadata=SCALAR)


def row_folder(row):
  """The run's folder name of a table row."""
  if row.stage is None:
    return "0_tf1_graph"
  return "%d_%s" % (row.stage.number, row.stage.name)


def write(folder, results):
  """Writes the event files of `results` (main.ExampleResult) under
  `folder`; returns {(example, row folder): run folder}."""
  runs = {}
  for result in results:
    for row in result.rows:
      run = os.path.join(folder, result.example.name, row_folder(row))
      writer = tf.summary.create_file_writer(run)
      with writer.as_default():
        for step, loss in enumerate(row.losses, start=1):
          _scalar("train_loss", float(loss), step)
        _scalar("test_accuracy", row.test_accuracy, len(row.losses))
      writer.close()
      runs[(result.example.name, row_folder(row))] = run
  return runs
