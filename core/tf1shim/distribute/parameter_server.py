"""Training a compiled Keras 3 model under `ParameterServerStrategy`.

Keras 3's `model.fit` cannot: its TensorFlow trainer (Keras 3.15,
`keras/src/backend/tensorflow/trainer.py`) has no
`tf.distribute.coordinator.ClusterCoordinator` (tf-keras's `fit` created one
and scheduled each step on a worker). Under the strategy, `fit` hands the
dataset to `strategy.experimental_distribute_dataset`, whose dataset then
refuses to be iterated: `ValueError: To use this dataset, you need to pass
this dataset to ClusterCoordinator.create_per_worker_dataset` (measured with
a coordinator, two workers and a parameter server on localhost). Giving
`fit` a coordinator would mean rewriting its loop (every step a scheduled
closure, its logs remote values), not repairing one function.

`train` is that loop, for the model `fit` would have trained: the model's
own `compute_loss` (its compiled loss plus `model.losses`, the regularization
of shimmed TF1 code included) and its compiled optimizer, each step a
closure scheduled on whichever worker is free, the variables on the
parameter servers. Training is asynchronous, as TF1's parameter-server
training was: each step reads the variables as they are when it starts.
"""

import tensorflow as tf


def train(model, dataset_fn, steps, coordinator=None):
  """Runs `steps` training steps of the compiled `model` on the workers.

  Args:
    model: a Keras 3 model built and compiled inside the
      `ParameterServerStrategy`'s scope.
    dataset_fn: `() -> tf.data.Dataset` of `(x, y)` batches, made on each
      worker (`ClusterCoordinator.create_per_worker_dataset`); repeat it
      for as many steps as you schedule.
    steps: how many steps to schedule.
    coordinator: a `ClusterCoordinator` of the strategy (default: a new one).

  Returns:
    The steps' losses, in scheduling order (floats).

  Raises:
    ValueError: the model is not compiled under a ParameterServerStrategy.
  """
  strategy = model.distribute_strategy
  if not isinstance(strategy, tf.distribute.ParameterServerStrategy):
    raise ValueError(
        "tf1shim.distribute.parameter_server.train needs a model built and "
        "compiled inside a tf.distribute.ParameterServerStrategy scope; "
        "%s's strategy is %s." % (model.name, type(strategy).__name__))
  if model.optimizer is None:
    raise ValueError("%s is not compiled: call model.compile(optimizer=..., "
                     "loss=...) inside the strategy's scope." % model.name)
  coordinator = (coordinator or
                 tf.distribute.coordinator.ClusterCoordinator(strategy))
  iterator = iter(coordinator.create_per_worker_dataset(dataset_fn))

  @tf.function
  def step(batches):

    def replica_step(data):
      x, y = data[0], data[1]
      with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
      variables = model.trainable_variables
      model.optimizer.apply_gradients(
          zip(tape.gradient(loss, variables), variables))
      return loss

    return strategy.run(replica_step, args=(next(batches),))

  results = [coordinator.schedule(step, args=(iterator,))
             for _ in range(steps)]
  coordinator.join()
  return [float(result.fetch()) for result in results]
