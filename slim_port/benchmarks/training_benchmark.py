"""Benchmark: training step and inference of every stage of every ported slim
network against the tf_slim network in a TF1 graph, in the same run.

    tools/dev bench-slim [--networks resnet_v1_50 ...] [--rounds 7]
    # or: bazel run //slim_port/benchmarks:training_benchmark
    # (tools/dev bench-slim --forward: the older forward-only benchmark)

Per network (its batch and input size in `CONFIGS`, 100 classes):

* train step: the TF1 graph's `Session.run` of slim's train op
  (`slim.learning.create_train_op`, what `slim.learning.train` runs: the
  total loss — softmax cross-entropy + slim's weight decay — returned after
  `MomentumOptimizer(0.001, 0.9)`'s update, `UPDATE_OPS` and the global
  step's increment) against each stage's `train_on_batch` (compiled with
  the same loss, `SGD(0.001, momentum=0.9)`; weight decay from
  `model.losses`); and again with `tf1_keras_layers.FusedSGD` (Keras's SGD
  in one kernel per variable, as TF1's optimizers ran);
* fit per step, FusedSGD: `model.fit` over an epoch of `--fit-steps`
  copies of the batch (a cached `tf.data` dataset), compiled with
  `steps_per_execution` = the epoch (one call of Keras's traced step runs
  them all: how Keras amortizes its cost per call), against as many
  `Session.run` calls of slim's train op; time per step;
* tf.function forward, predict (`predict_on_batch`: Keras's traced
  predict step) and eager forward (inference, `is_training=False`) against
  `Session.run` of the logits of an inference graph; predict per step:
  `model.predict` over an epoch of `--predict-steps` copies of the batch
  (`steps_per_execution` = the epoch) against as many `Session.run` calls.

Per call, a Keras model pays costs that `Session.run` does not (measured
on inception_v1's stage 4 with `call_cost.py`, README: "What a call
costs"): a NumPy input is copied into a new tensor on every call (a bare
`tf.function` call with the batch: 1.09 ms, against 0.29 ms with a tensor
and `Session.run`'s 0.54 ms with the array fed), and each captured
variable is an input of the traced function; `train_on_batch` also resets
its metrics and adapts its data in Python. The per-step measures are the
training loop and the batch inference that a team runs; `fit` and
`predict` still have a fixed cost per call (a `tf.data` iterator,
callbacks: 40-65 ms measured), which their epochs amortize.

Every stage starts from the TF1 graph's initial weights (copied by TF1
name). Stages are measured one after the other (one stage's models in
memory at a time), each against the TF1 graph: both are warmed up (traced)
first; then, in each of `--rounds` rounds, both run once, in an order that
alternates round after round, and the stage's time is divided by the TF1
graph's in the same round. The table gives the median time, the median of
the ratios and their extremes (the spread over rounds); the TF1 graph's
time is the median over the stages' measurements.
"""

import argparse
import gc
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

import tf_slim as slim  # pylint: disable=g-import-not-at-top
from tf1_keras_layers import FusedSGD  # pylint: disable=g-import-not-at-top
from tf1shim import staging  # pylint: disable=g-import-not-at-top
from tf1shim.comparison import timing  # pylint: disable=g-import-not-at-top
from slim_port.staging import network as network_lib  # pylint: disable=g-import-not-at-top

v1 = tf.compat.v1
NUM_CLASSES = 100
# Every measure trains the same batch again and again (hundreds of steps
# per run): at a learning rate of 0.01 vgg_16's graph reached NaN after
# about ten of them in one run (2026-12-07; its initialization is random,
# and vgg has no batch norm). The rate changes no op, only the values,
# which must stay finite to time realistic arithmetic.
LEARNING_RATE, MOMENTUM = 0.001, 0.9
# (batch, input size) per network: resnet_v1_50 as the issue measured it;
# inception_v1 at its native size (its last pool needs a 7x7 map); vgg_16
# needs 224 (fc6 is a 7x7 VALID convolution) and is 10x the others' work
# per image, so a smaller batch.
CONFIGS = {"resnet_v1_50": (8, 112), "inception_v1": (4, 224),
           "vgg_16": (2, 224)}
MEASURES = ("train step", "train step, FusedSGD", "fit per step, FusedSGD",
            "tf.function forward", "predict", "predict per step",
            "eager forward")
TRAIN_MEASURES = ("train step", "train step, FusedSGD",
                  "fit per step, FusedSGD")
# Steps per epoch of the per-step measures: enough that the fixed cost of a
# `fit`/`predict` call (40-65 ms) is 2% or less of resnet_v1_50's and
# inception_v1's epochs (a train step 0.3-0.8 s, a forward 70-150 ms).
FIT_STEPS, PREDICT_STEPS = 8, 24
TF1 = "TF1 graph"


def _data(batch, size):
  rng = np.random.RandomState(0)
  images = rng.normal(size=(batch, size, size, 3)).astype(np.float32)
  return images, rng.randint(0, NUM_CLASSES, batch).astype(np.int32)


def tf1_graph(network, images, labels, with_handles=False):
  """(train step, inference forward, initial values by TF1 name, sessions):
  the tf_slim network trained and run the TF1 way. With `with_handles`, a
  dict of these and, as "train" and "inference", (session, fetch, feed)."""
  train_graph = tf.Graph()
  with train_graph.as_default():
    x = v1.placeholder(tf.float32, images.shape)
    y = v1.placeholder(tf.int32, labels.shape)
    logits, _ = network.slim_model_fn(x, training=True,
                                      num_classes=NUM_CLASSES)
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    loss += tf.add_n(v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES))
    model_variables = v1.global_variables()
    # Slim's train op returns the loss, as Keras's `train_on_batch` does:
    # both compute its value (the weight decay's `L2Loss`es included), which
    # a bare `minimize` op fetched alone would prune.
    train_op = slim.learning.create_train_op(
        loss, v1.train.MomentumOptimizer(LEARNING_RATE, MOMENTUM))
    init = v1.global_variables_initializer()
  train_session = v1.Session(graph=train_graph)
  train_session.run(init)
  values = {staging.variable_name(v): value for v, value in zip(
      model_variables, train_session.run(model_variables))}
  inference_graph = tf.Graph()
  with inference_graph.as_default():
    x_inference = v1.placeholder(tf.float32, images.shape)
    inference_logits, _ = network.slim_model_fn(
        x_inference, training=False, num_classes=NUM_CLASSES)
    assign = [v.assign(values[staging.variable_name(v)])
              for v in v1.global_variables()]
  inference_session = v1.Session(graph=inference_graph)
  inference_session.run(assign)

  def train_step():
    train_session.run(train_op, {x: images, y: labels})

  def forward():
    inference_session.run(inference_logits, {x_inference: images})

  sessions = (train_session, inference_session)
  if with_handles:
    return {"values": values, "sessions": sessions,
            "train": (train_session, train_op, {x: images, y: labels}),
            "inference": (inference_session, inference_logits,
                          {x_inference: images})}
  return train_step, forward, values, sessions


def _model(stage, images, values, optimizer_class, steps_per_execution=1):
  model = stage.build_model(num_classes=NUM_CLASSES)
  model(images, training=False)
  names = stage.tf1_name_map(model)
  for v in model.weights:
    v.assign(values[names[staging.variable_name(v)]])
  model.compile(
      optimizer=optimizer_class(LEARNING_RATE, momentum=MOMENTUM),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      steps_per_execution=steps_per_execution)
  return model


def stage_measures(stage, images, labels, values, fit_steps=FIT_STEPS,
                   predict_steps=PREDICT_STEPS):
  """{measure: callable} for one stage, from the TF1 graph's values."""
  model = _model(stage, images, values, keras.optimizers.SGD)
  fused_sgd_model = _model(stage, images, values, FusedSGD)
  fit_model = _model(stage, images, values, FusedSGD, fit_steps)
  predict_model = _model(stage, images, values, keras.optimizers.SGD,
                         predict_steps)
  fit_epoch = timing.epoch_dataset([(images, labels)], fit_steps)
  predict_epoch = timing.epoch_dataset([(images,)], predict_steps)
  forward = tf.function(lambda x: model(x, training=False))
  return {
      "train step": lambda: model.train_on_batch(images, labels),
      "train step, FusedSGD": lambda: fused_sgd_model.train_on_batch(
          images, labels),
      "fit per step, FusedSGD": lambda: fit_model.fit(
          fit_epoch, epochs=1, verbose=0, shuffle=False),
      "tf.function forward": lambda: forward(images),
      "predict": lambda: model.predict_on_batch(images),
      "predict per step": lambda: predict_model.predict(predict_epoch,
                                                        verbose=0),
      "eager forward": lambda: model(images, training=False),
  }


def benchmark(name, rounds, batch=None, size=None, fit_steps=FIT_STEPS,
              predict_steps=PREDICT_STEPS, stage_numbers=None,
              measures=MEASURES):
  """{measure: {contender: entry}} for one network (see
  `tf1shim.comparison.timing`), its stages in `stage_numbers` (all by
  default), the `measures` given.

  One stage at a time against the TF1 graph (so that one stage's models
  are in memory at a time: vgg_16's weights and momenta are 1 GiB per
  model), each measure in interleaved rounds of the two.
  """
  default_batch, default_size = CONFIGS[name]
  images, labels = _data(batch or default_batch, size or default_size)
  network = network_lib.load(name)
  train_step, forward, values, sessions = tf1_graph(network, images, labels)

  def tf1_fit_epoch():
    for _ in range(fit_steps):
      train_step()

  def tf1_predict_epoch():
    for _ in range(predict_steps):
      forward()

  epochs = {"fit per step, FusedSGD": tf1_fit_epoch,
            "predict per step": tf1_predict_epoch}
  baselines = {measure: epochs.get(measure, train_step if measure in
                                   TRAIN_MEASURES else forward)
               for measure in measures}

  def stages():
    for stage in network.stages:
      if stage_numbers and stage.number not in stage_numbers:
        continue
      yield ("%d %s" % (stage.number, stage.name),
             stage_measures(stage, images, labels, values, fit_steps,
                            predict_steps))
      # Free the stage's models before the next stage's are built.
      keras.backend.clear_session()
      gc.collect()

  results = timing.stages_against_baseline(
      TF1, baselines, stages(), rounds, steps_per_call={
          "fit per step, FusedSGD": fit_steps,
          "predict per step": predict_steps})
  for session in sessions:
    session.close()
  return results


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--networks", nargs="+", choices=network_lib.NETWORKS,
                      default=list(network_lib.NETWORKS))
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--batch", type=int, help="instead of CONFIGS'")
  parser.add_argument("--size", type=int, help="input size, instead of "
                      "CONFIGS'")
  parser.add_argument("--fit-steps", type=int, default=FIT_STEPS,
                      help="steps of the epoch of 'fit per step'")
  parser.add_argument("--predict-steps", type=int, default=PREDICT_STEPS,
                      help="steps of the epoch of 'predict per step'")
  parser.add_argument("--stages", nargs="+", type=int, choices=(1, 2, 3, 4),
                      help="only these stages (default: all)")
  parser.add_argument("--measures", nargs="+", choices=MEASURES,
                      default=list(MEASURES), metavar="MEASURE",
                      help="only these measures, named as the table's "
                      "columns (default: all)")
  args = parser.parse_args(argv)
  print("Median time, median ratio to the TF1 graph (smallest-largest "
        "ratio over %d rounds); median ratio of CPU time." % args.rounds)
  print(timing.table_header("network (batch, size)", args.measures))
  for name in args.networks:
    results = benchmark(name, args.rounds, args.batch, args.size,
                        args.fit_steps, args.predict_steps, args.stages,
                        args.measures)
    batch, size = CONFIGS[name]
    label = "%s (%d, %d)" % (name, args.batch or batch, args.size or size)
    print("\n".join(timing.table_rows(label, results, args.measures)),
          flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
