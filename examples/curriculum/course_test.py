"""Every row of the course trains identically: the TF1 graph and each stage
compute the same loss at every step (dropout masks included)."""

import numpy as np
import pytest
import tensorflow as tf

from examples.curriculum import course
from examples.curriculum import divergence
from examples.curriculum import example as example_lib
from examples.curriculum import training
from testing.pytest_main import pytest_main

STEPS = 12
EPS32 = float(np.finfo(np.float32).eps)
# Per step, relative to the step's loss. Every row computes the same data
# loss and regularization losses from the same weights; they are summed in
# another order (TF1: data + add_n(regularization); Keras: one sum over the
# data loss and each layer's penalty), and each float32 addition rounds by
# up to half an ulp of the sum: a few ulps of the loss apart (measured: at
# most 2 ulps, 4.8e-7 at a loss of 2.3, over 300 steps of every example).
# 8 ulps leave room for other kernels' rounding; a different dropout mask
# changes a step's loss by 1e-3 to 1e-1 (`test_without_the_hook_...`).
STEP_LOSS_ULPS = 8


def _rows(name, data_dir, stages=None, hook=True, monkeypatch=None):
  example = example_lib.load(name)
  batches = course.numpy_batches(
      "train", STEPS, training.BATCH_SIZE, data_dir=data_dir,
      shuffle_seed=7, transform=example.data_transform)
  split = batches[0]  # the evaluation is not what this test is about
  initial = course.initial_values(example, batches[0][0])
  reference = course.train_tf1_graph(example, initial, batches, split, split)
  if not hook:
    monkeypatch.setattr(course, "fit_draws_like_a_tf1_session",
                        lambda model, tool: None)
  rows = [course.train_stage(example.stage(n), initial, batches, split, split)
          for n in (stages or range(1, len(example.stages) + 1))]
  return reference, rows


def _assert_same_losses(actual, reference, what):
  tolerance = STEP_LOSS_ULPS * EPS32 * np.abs(reference)
  np.testing.assert_array_less(np.abs(actual - reference), tolerance + 1e-30,
                               err_msg=what)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.mark.parametrize("name", ["conv", "rnn", "estimator"])
def test_every_stage_computes_the_tf1_graphs_loss_at_every_step(
    name, data_dir):
  # conv: a Dropout layer; rnn: DropoutWrapper's variational masks (stages
  # 1-2) and Keras Dropout with a noise shape (stages 3-4); estimator: a
  # dict of features, stages 1-3 an EstimatorModel trained with its spec's
  # loss and its train op's optimizer.
  reference, rows = _rows(name, data_dir)
  assert len(reference.losses) == STEPS
  for number, row in enumerate(rows, start=1):
    assert len(row.losses) == STEPS
    _assert_same_losses(row.losses, reference.losses,
                        "%s stage %d vs the TF1 graph" % (name, number))
    if number > 1:
      _assert_same_losses(row.losses, rows[number - 2].losses,
                          "%s stage %d vs stage %d" % (name, number,
                                                       number - 1))


def test_inputs_of_any_structure_are_batched_and_split_leaf_by_leaf():
  rng = np.random.default_rng(0)
  steps = [{"pixels": rng.normal(size=(4, 8, 8, 1)),
            "ink": rng.normal(size=(4, 1))} for _ in range(3)]
  stacked = course.stacked(steps)
  assert stacked["pixels"].shape == (3, 4, 8, 8, 1)
  np.testing.assert_array_equal(stacked["ink"][2], steps[2]["ink"])
  whole = course.concatenated(steps)
  np.testing.assert_array_equal(
      whole["pixels"], np.concatenate([s["pixels"] for s in steps]))
  labels = np.arange(12)
  parts = course._split_in_batches((whole, labels), 5)  # pylint: disable=protected-access
  assert [len(y) for _, y in parts] == [5, 5, 2]
  np.testing.assert_array_equal(parts[2][0]["ink"], whole["ink"][10:12])
  # A split's mean from its batches' means: each weighted by its size.
  means = [(float(np.mean(y)), len(y)) for _, y in parts]
  assert course._weighted_mean(means) == pytest.approx(np.mean(labels))  # pylint: disable=protected-access
  # One array is its own structure.
  np.testing.assert_array_equal(course.sliced(labels, 3, 5), [3, 4])


def test_the_data_order_does_not_depend_on_what_ran_before(data_dir):
  # The random tools set TensorFlow's global seed and leave it set; the
  # shuffle's order must not follow it (else an example run alone and the
  # same example after another train on other batches).
  orders = []
  for global_seed in (1, 2):
    tf.random.set_seed(global_seed)
    batches = course.numpy_batches("train", 3, 8, data_dir=data_dir,
                                   shuffle_seed=7)
    orders.append(np.concatenate([y for _, y in batches]))
  np.testing.assert_array_equal(orders[0], orders[1])


def test_without_the_hook_fit_draws_other_dropout_masks(data_dir,
                                                        monkeypatch):
  # The check above can fail: model.fit left to draw by itself.
  reference, (stage4,) = _rows("conv", data_dir, stages=[4], hook=False,
                               monkeypatch=monkeypatch)
  assert np.max(np.abs(stage4.losses - reference.losses)) > 1e-3


def test_divergence_restarts_both_stages_from_the_same_weights(data_dir):
  # Stages that compute the same: restarted, one step apart by rounding.
  rows = divergence.measure("dense", 1, 4, steps=2, data_dir=data_dir)
  assert [row[0] for row in rows] == [1, 2]
  for step, free_loss, free_weights, loss, weights in rows:
    assert free_loss <= STEP_LOSS_ULPS * EPS32 * 3.0, (step, free_loss)
    assert loss <= STEP_LOSS_ULPS * EPS32 * 3.0, (step, loss)
    # Relative to each weight's largest value: a few ulps per update.
    assert max(free_weights, weights) <= 1e-5, rows


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
