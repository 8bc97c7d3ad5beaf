"""Checkpoint rules that transform tensors: TF1 LSTM and GRU checkpoints,
written by real TF1 code, into Keras 3's `LSTM` and `GRU`.

The models, rules and checkpoint writer are testing/rnn_checkpoint_models.py
(shared with the `ckpt` tool's tests): TF1 graphs of `tf1shim.rnn`'s cells
saved by `Saver` with random variables, so a wrong gate order or a missing
forget bias changes the outputs.

Output tolerance, here and below: 1e-6 times the largest output. The
outputs are tanh/sigmoid products of magnitude <= 1 after 5 steps; float32
has eps 1.2e-7, and Keras's LSTM/GRU sum `x @ kernel + h @ recurrent`
where TF1 multiplies `concat([x, h]) @ kernel`, a few ulps apart. A wrong
gate order or a forget bias off by 1.0 moves them by O(0.1).
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from tf1shim import checkpoints
from tf1shim import comparison
from tf1shim.checkpoints import transforms
from testing.pytest_main import pytest_main
from testing.rnn_checkpoint_models import BATCH
from testing.rnn_checkpoint_models import DEPTH
from testing.rnn_checkpoint_models import GRU_RULES
from testing.rnn_checkpoint_models import keras_gru
from testing.rnn_checkpoint_models import keras_lstm
from testing.rnn_checkpoint_models import LSTM_RULES
from testing.rnn_checkpoint_models import tf1_gru
from testing.rnn_checkpoint_models import tf1_lstm
from testing.rnn_checkpoint_models import TIME
from testing.rnn_checkpoint_models import write_tf1_checkpoint
from testing.rnn_checkpoint_models import X

OUTPUT_RTOL = 1e-6  # of the largest output; see the module docstring


@pytest.fixture(scope="module")
def lstm_checkpoint(tmp_path_factory):
  return write_tf1_checkpoint(str(tmp_path_factory.mktemp("lstm")), tf1_lstm)


@pytest.fixture(scope="module")
def gru_checkpoint(tmp_path_factory):
  return write_tf1_checkpoint(str(tmp_path_factory.mktemp("gru")), tf1_gru)


def assert_outputs_equal(got, want):
  np.testing.assert_allclose(np.asarray(got), want, rtol=0,
                             atol=OUTPUT_RTOL * np.abs(want).max())


def restored(build, prefix, rules_text, source="test.rules"):
  model = build()
  report = checkpoints.restore_checkpoint(
      prefix, model, mapping=checkpoints.parse_rules(rules_text, source),
      strict=True)
  return model, report


def test_tf1_lstm_checkpoint_restores_into_keras_lstm(lstm_checkpoint):
  prefix, expected = lstm_checkpoint
  model, report = restored(keras_lstm, prefix, LSTM_RULES)
  assert len(report.transformed) == 6 and report.complete
  assert report.transformed["rnn_model/lstm_0/lstm_cell/bias"] == (
      "rnn/multi_rnn_cell/cell_0/lstm_cell/bias | gates i,j,f,o -> i,f,j,o"
      " | add f 1.0")
  assert_outputs_equal(model(X), expected)


def test_tf1_gru_checkpoint_restores_into_keras_gru(gru_checkpoint):
  prefix, expected = gru_checkpoint
  model, report = restored(keras_gru, prefix, GRU_RULES)
  assert report.assigned["rnn_model/gru/gru_cell/kernel"] == (
      "rnn/gru_cell/gates/kernel", "rnn/gru_cell/candidate/kernel")
  assert report.complete
  assert_outputs_equal(model(X), expected)


@pytest.mark.parametrize("build, fixture, rules, wrong", [
    (keras_lstm, "lstm_checkpoint", LSTM_RULES, {" | add f 1.0": ""}),
    (keras_lstm, "lstm_checkpoint", LSTM_RULES,
     {"i,j,f,o -> i,f,j,o": "i,j,f,o -> i,j,f,o"}),
    (keras_gru, "gru_checkpoint", GRU_RULES, {"r,u -> u,r": "r,u -> r,u"}),
], ids=["lstm_without_forget_bias", "lstm_tf1_gate_order",
        "gru_tf1_gate_order"])
def test_a_wrong_transform_changes_the_outputs(build, fixture, rules, wrong,
                                               request):
  # The tests above can fail: these mistakes fit every shape.
  prefix, expected = request.getfixturevalue(fixture)
  for old, new in wrong.items():
    rules = rules.replace(old, new)
  model, _ = restored(build, prefix, rules)
  assert np.abs(np.asarray(model(X)) - expected).max() > 1e-3


def entries_of(prefix):
  reader = checkpoints.CheckpointReader(prefix)
  return reader, {n: (e.shape, e.dtype) for n, e in reader.entries.items()}


def variables_of(model):
  return {w.path: (tuple(w.shape), np.dtype(w.dtype)) for w in model.weights}


def test_plan_forward_and_inverse(lstm_checkpoint):
  prefix, _ = lstm_checkpoint
  reader, entries = entries_of(prefix)
  rules = checkpoints.parse_rules(LSTM_RULES)
  plan = checkpoints.plan_mapping(rules, variables_of(keras_lstm()), entries)
  values = plan.forward(reader.read)
  kernel = reader.read("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel")
  i, j, f, o = np.split(kernel, 4, axis=1)
  layer = "rnn_model/lstm_0/lstm_cell/"
  np.testing.assert_array_equal(values[layer + "kernel"],
                                np.concatenate([i, f, j, o], 1)[:4])
  np.testing.assert_array_equal(values[layer + "recurrent_kernel"],
                                np.concatenate([i, f, j, o], 1)[4:])
  bias = reader.read("rnn/multi_rnn_cell/cell_0/lstm_cell/bias")
  i, j, f, o = np.split(bias, 4)
  np.testing.assert_array_equal(values["rnn_model/lstm_0/lstm_cell/bias"],
                                np.concatenate([i, f + np.float32(1), j, o]))
  # Gradients: the same gather, nothing added.
  gradients = plan.gradients(reader.read)
  np.testing.assert_array_equal(gradients["rnn_model/lstm_0/lstm_cell/bias"],
                                np.concatenate([i, f, j, o]))
  # The inverse joins kernel and recurrent kernel, puts the gates back and
  # subtracts the forget bias (in float32, as the forward added it).
  back = plan.inverse(values)
  assert sorted(back) == sorted(entries)
  np.testing.assert_array_equal(back[
      "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel"], kernel)
  np.testing.assert_array_equal(
      back["rnn/multi_rnn_cell/cell_0/lstm_cell/bias"],
      np.concatenate([i, j, (f + np.float32(1)) - np.float32(1), o]))
  # Without a checkpoint, the entries' shapes come from the variables.
  inverse = checkpoints.plan_inverse(rules, variables_of(keras_lstm()))
  assert inverse.sources == entries


def test_compare_stages_maps_values_gradients_and_steps_through_rules():
  # TF1 graph vs Keras 3: initial values copied through the forward,
  # variables after each step through the forward, gradients through the
  # linear part. Without the forget bias it diverges at the outputs.
  batches = [(X, np.zeros([BATCH, TIME, 5], np.float32))] * 3

  def loss(labels, outputs):
    return tf.reduce_mean(tf.square(outputs - labels + 0.3))

  rules = checkpoints.parse_rules(LSTM_RULES)
  report = comparison.assert_stages_match(
      comparison.tf1_graph(tf1_lstm), keras_lstm, batches, loss,
      mapping=rules, copy_weights=True)
  gradients = [c for c in report.checks if c.quantity == "gradients"]
  assert len(gradients) == 6 and max(c.max_abs_error for c in gradients) < (
      1e-5)
  assert any(c.quantity == "variables after step 2" for c in report.checks)
  wrong = checkpoints.parse_rules(LSTM_RULES.replace(" | add f 1.0", ""))
  report = comparison.compare_stages(
      comparison.tf1_graph(tf1_lstm), keras_lstm, batches, loss,
      mapping=wrong, copy_weights=True)
  # Copied through the same rules, the variables agree; the outputs not.
  assert report.first_divergence.quantity == "output (inference)", str(
      report)


def renamed_keras_lstm():
  """keras_lstm with other layer names (another stage of the migration)."""
  return keras.Sequential([
      keras.Input((TIME, DEPTH)),
      keras.layers.LSTM(6, return_sequences=True, name="encoder"),
      keras.layers.LSTM(5, return_sequences=True, name="decoder")],
      name="rnn_model")


RENAMED_RULES = LSTM_RULES.replace("/lstm_0/", "/encoder/").replace(
    "/lstm_1/", "/decoder/")


def test_between_two_stages_that_both_have_rules_to_tf1_names():
  batches = [(X, np.zeros([BATCH, TIME, 5], np.float32))] * 2

  def loss(labels, outputs):
    return tf.reduce_mean(tf.square(outputs - labels + 0.3))

  mapping = checkpoints.between(checkpoints.parse_rules(RENAMED_RULES),
                                checkpoints.parse_rules(LSTM_RULES))
  report = comparison.assert_stages_match(
      keras_lstm, renamed_keras_lstm, batches, loss, mapping=mapping,
      copy_weights=True)
  assert report.ok
  # The same layers in another gate order are not the same stage.
  crossed = checkpoints.between(
      checkpoints.parse_rules(RENAMED_RULES.replace(
          "i,j,f,o -> i,f,j,o", "i,j,f,o -> f,i,j,o")),
      checkpoints.parse_rules(LSTM_RULES))
  report = comparison.compare_stages(
      keras_lstm, renamed_keras_lstm, batches, loss, mapping=crossed,
      copy_weights=True)
  assert report.first_divergence.quantity == "output (inference)", str(
      report)


# --- Errors: named by file:line, with both shapes, before any write ------


def assert_restore_raises(prefix, rules_text, *fragments):
  model = keras_lstm()
  before = [w.numpy().copy() for w in model.weights]
  with pytest.raises(checkpoints.MappingError) as raised:
    checkpoints.restore_checkpoint(
        prefix, model, mapping=checkpoints.parse_rules(rules_text,
                                                       "lstm.rules"))
  for fragment in fragments:
    assert fragment in str(raised.value), str(raised.value)
  for w, old in zip(model.weights, before):  # nothing was assigned
    np.testing.assert_array_equal(w.numpy(), old)


def test_rows_out_of_range_names_the_rule_and_both_shapes(lstm_checkpoint):
  assert_restore_raises(
      lstm_checkpoint[0], LSTM_RULES.replace("rows 0:4 |", "rows 0:6 |"),
      "lstm.rules:3:", "rnn_model/lstm_0/lstm_cell/kernel (shape (4, 24))",
      "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel (shape (10, 24))",
      "the transforms give shape (6, 24)")
  assert_restore_raises(
      lstm_checkpoint[0], LSTM_RULES.replace("rows 4: |", "rows 4:12 |"),
      "lstm.rules:4:", "rows 4:12 selects no rows or rows out of range",
      "(shape (10, 24))", "(shape (6, 24))")


def test_gates_that_do_not_divide_the_last_axis(lstm_checkpoint):
  assert_restore_raises(
      lstm_checkpoint[0], LSTM_RULES.replace(
          "cell_1/lstm_cell/bias | gates i,j,f,o -> i,f,j,o",
          "cell_1/lstm_cell/bias | gates a,b,c,i,j,f,o -> i,f,j,o,a,b,c"),
      "lstm.rules:8:", "7 equal blocks, but it has 20 elements",
      "rnn_model/lstm_1/lstm_cell/bias (shape (20,))", "(shape (20,))")


def test_a_concat_that_does_not_match(gru_checkpoint):
  # Without `gates` the first part counts as one block, not two: the
  # inverse could not split the Keras kernel back.
  model = keras_gru()
  with pytest.raises(checkpoints.MappingError,
                     match=r"gru.rules:2: .*rnn_model/gru/gru_cell/kernel "
                     r"\(shape \(4, 15\)\).*gates/kernel \(shape \(9, 10\)\), "
                     r"entry rnn/gru_cell/candidate/kernel \(shape \(9, 5\)\).*"
                     r"\[10, 5\] wide"):
    checkpoints.restore_checkpoint(
        gru_checkpoint[0], model, mapping=checkpoints.parse_rules(
            GRU_RULES.replace("rows 0:4 | gates r,u -> u,r", "rows 0:4"),
            "gru.rules"))


# Partitioned embeddings: (name, shape, parts); 7 and 10 rows split
# unevenly (TF1 gives the first rows % parts parts one row more).
PARTITIONED = (("words", (7, 2), 3), ("tags", (10, 3), 4), ("one", (5, 2), 1))
PARTITIONED_RULES = "\n".join(
    "^%s$ -> %s | mod_partitions %d" % (n, n, k) for n, _, k in PARTITIONED)


@pytest.fixture(scope="module")
def partitioned_checkpoint(tmp_path_factory):
  """A TF1 graph's partitioned variables, looked up and saved by Saver."""
  v1 = tf.compat.v1
  prefix = str(tmp_path_factory.mktemp("partitioned") / "model.ckpt")
  with tf.Graph().as_default():
    tables = [v1.get_variable(n, shape, initializer=v1.random_normal_initializer(
        seed=i), partitioner=v1.fixed_size_partitioner(k))
              for i, (n, shape, k) in enumerate(PARTITIONED)]
    lookups = [v1.nn.embedding_lookup(t, tf.range(shape[0]))
               for t, (_, shape, _) in zip(tables, PARTITIONED)]
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      v1.train.Saver().save(sess, prefix)
      return prefix, sess.run(lookups)


class EmbeddingModel(keras.layers.Layer):
  """The TF1 code with the partitioners removed, under the shim."""

  @tf1shim.track_tf1_style_variables
  def call(self, ids):
    v1 = tf.compat.v1
    return [v1.nn.embedding_lookup(v1.get_variable(n, shape), ids[:shape[0]])
            for n, shape, _ in PARTITIONED]


def test_mod_partitioned_embeddings_restore_in_id_order(
    partitioned_checkpoint):
  """Without the partitioner, TF1's checkpoint entry (the parts one after
  the other) is not in id order under "mod" lookups; `mod_partitions N`
  puts it in order, and its inverse writes TF1's layout back."""
  prefix, tf1_lookups = partitioned_checkpoint
  ids = tf.range(10)
  model = EmbeddingModel()
  model(ids)
  # Copied as stored, the restore warns with the rule to use.
  with pytest.warns(UserWarning, match=r"tags \(4 parts\), words \(3 parts\)"
                    r".* '\^tags\$ -> tags \| mod_partitions 4'"):
    report = checkpoints.restore_checkpoint(prefix, model, strict=True)
  assert report.partitioned == {"tags": 4, "words": 3}  # "one": 1 part
  assert "saved in 3 parts (see mod_partitions): words" in str(report)
  as_stored = model(ids)
  # The parts' concatenation differs from the lookups (one part: equal).
  for (name, _, parts), got, want in zip(PARTITIONED, as_stored,
                                         tf1_lookups):
    assert np.array_equal(got, want) == (parts == 1), name

  rules = checkpoints.parse_rules(PARTITIONED_RULES)
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # transformed: nothing to warn about
    report = checkpoints.restore_checkpoint(prefix, model, mapping=rules,
                                            strict=True)
  assert not report.partitioned
  for got, want in zip(model(ids), tf1_lookups):
    np.testing.assert_array_equal(got, want)  # a reorder: exact

  reader, entries = entries_of(prefix)
  plan = checkpoints.plan_mapping(rules, variables_of(model), entries)
  back = plan.inverse({w.path: w.numpy() for w in model.weights})
  for name, _, _ in PARTITIONED:
    np.testing.assert_array_equal(back[name], reader.read(name))

  # More parts than rows: the rule's line, nothing assigned.
  before = [w.numpy().copy() for w in model.weights]
  with pytest.raises(checkpoints.MappingError) as raised:
    checkpoints.restore_checkpoint(prefix, model, mapping=checkpoints.parse_rules(
        PARTITIONED_RULES.replace("mod_partitions 3", "mod_partitions 9"),
        "embeddings.rules"))
  message = str(raised.value)
  assert "embeddings.rules:1:" in message and "1 to 7 parts" in message, (
      message)
  for w, old in zip(model.weights, before):
    np.testing.assert_array_equal(w.numpy(), old)


def test_row_parts_counts_only_partitions_of_axis_0(tmp_path):
  v1 = tf.compat.v1
  prefix = str(tmp_path / "model.ckpt")
  with tf.Graph().as_default():
    v1.get_variable("rows", [6, 4], partitioner=v1.fixed_size_partitioner(3))
    v1.get_variable("columns", [4, 6],
                    partitioner=v1.fixed_size_partitioner(3, axis=1))
    v1.get_variable("whole", [4, 6])
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      v1.train.Saver().save(sess, prefix)
  reader = checkpoints.CheckpointReader(prefix)
  assert {n: reader.row_parts(n) for n in reader.entries} == {
      "rows": 3, "columns": 0, "whole": 0}


def test_mod_partition_order_is_tf1s_split():
  # 7 rows in 3 parts: rows 0-2, 3-4, 5-6; id i in part i % 3, row i // 3.
  np.testing.assert_array_equal(
      transforms.mod_partition_order(7, 3), [0, 3, 5, 1, 4, 6, 2])
  np.testing.assert_array_equal(transforms.mod_partition_order(4, 1),
                                [0, 1, 2, 3])


@pytest.mark.parametrize("line, message", [
    ("^a$ -> b | rows 1-3", "unknown transform 'rows 1-3'"),
    ("^a$ -> b | gates i,j,f,o -> i,f,j", "must be a permutation of the "
     "labels before it (i,j,f,o), got i,f,j"),
    ("^a$ -> b | add f 1.0", "add f 1.0 has no `gates` before it"),
    ("^a$ -> b | gates i,j,f,o -> i,f,j,o | add c 1.0", "no block 'c'"),
    ("^a$ -> b | gates i,j -> j,i | add i one", "expected `add LABEL VALUE`"),
    ("^a$ -> b |rows 0:4", "separate transforms with ' | '"),
    ("^a$ -> concat(b | rows 0:4)", "concat(...) joins two or more"),
    ("^a$ -> concat(b ; c) | rows 0:4", "nothing after the closing"),
    ("^a$ -> b | mod_partitions -2", "unknown transform 'mod_partitions -2'"),
], ids=["rows", "permutation", "add_first", "unknown_label", "add_value",
        "spacing", "one_part_concat", "after_concat", "mod_partitions"])
def test_bad_transform_syntax_names_the_line(line, message):
  with pytest.raises(checkpoints.MappingError) as raised:
    checkpoints.parse_rules("# comment\n" + line + "\n", "my.rules")
  assert str(raised.value).startswith("my.rules:2: "), str(raised.value)
  assert message in str(raised.value), str(raised.value)


def test_alternation_in_the_pattern_is_not_a_transform_separator():
  rules = checkpoints.parse_rules(r"^(a|b)/x$ -> c/\1 | rows 1:")
  assert rules[0].pattern == "^(a|b)/x$"
  assert str(rules[0].parts[0].transforms[0]) == "rows 1:"


def test_the_inverse_refuses_incomplete_coverage(lstm_checkpoint):
  prefix, _ = lstm_checkpoint
  reader, entries = entries_of(prefix)
  model = keras_lstm()
  # The first layer's recurrent kernel comes from nowhere: rows 4: of the
  # TF1 kernel would be lost.
  partial = checkpoints.parse_rules(
      LSTM_RULES.replace("^rnn_model/lstm_0/lstm_cell/recurrent_kernel$",
                         "^nothing$"))
  variables = {n: s for n, s in variables_of(model).items()
               if n != "rnn_model/lstm_0/lstm_cell/recurrent_kernel"}
  plan = checkpoints.plan_mapping(partial, variables, entries)
  with pytest.raises(checkpoints.MappingError,
                     match=r"entry rnn/multi_rnn_cell/cell_0/lstm_cell/kernel"
                     r" \(shape \(10, 24\)\) from "
                     r"rnn_model/lstm_0/lstm_cell/kernel: "
                     r"144 of its 240 elements are made by no model "
                     r"variable \(first: \(4, 0\)\)"):
    plan.inverse(plan.forward(reader.read))
  # Without a checkpoint the entry's size is unknown: refused too.
  with pytest.raises(checkpoints.MappingError,
                     match=r"rows 0:4` of entry .*cell_0/lstm_cell/kernel "
                     r"takes all 4 rows"):
    checkpoints.plan_inverse(partial, variables)
  # Two variables on the same rows: each element made twice.
  twice = checkpoints.parse_rules(LSTM_RULES.replace("rows 4: |", "rows 0:4"
                                                     " |"))
  shapes = dict(variables_of(model))
  shapes["rnn_model/lstm_0/lstm_cell/recurrent_kernel"] = ((4, 24), np.float32)
  plan = checkpoints.plan_mapping(twice, shapes, entries)
  values = plan.forward(reader.read)
  with pytest.raises(checkpoints.MappingError,
                     match="96 elements are made by more than one"):
    plan.inverse(values)
  with pytest.raises(checkpoints.MappingError,
                     match="96 elements are made by more than one"):
    checkpoints.plan_inverse(twice, shapes)


def test_strict_restore_reports_a_partly_used_entry(lstm_checkpoint):
  model = keras_lstm()
  rules = checkpoints.parse_rules(LSTM_RULES.replace("rows 4: |",
                                                     "rows 4:10 |"))
  report = checkpoints.restore_checkpoint(lstm_checkpoint[0], model,
                                          mapping=rules, dry_run=True)
  assert report.complete
  partial = model.weights[:]
  del partial[1]  # lstm_0's recurrent kernel
  with pytest.raises(checkpoints.RestoreError,
                     match=r"partly used checkpoint entry: entry rnn/"
                     r"multi_rnn_cell/cell_0/lstm_cell/kernel"):
    checkpoints.restore_checkpoint(lstm_checkpoint[0], partial,
                                   mapping=rules, strict=True)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
