"""The public TF1 model files (loader.py) at tiny configurations.

Each entry: `fn(inputs) -> float32 output`, the inputs (numpy) and the
learning rate of the test's SGD steps. The model code is the installed PyPI
packages' own (loader.py); this module only picks configurations and wires
inputs to outputs.
"""

import numpy as np

import loader


def bert_encoder(input_ids):
  """BERT (bert-tensorflow's bert/modeling.py): a 2-layer encoder."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  modeling = loader.bert_modeling()
  config = modeling.BertConfig(
      vocab_size=20, hidden_size=8, num_hidden_layers=2,
      num_attention_heads=2, intermediate_size=16, max_position_embeddings=16,
      type_vocab_size=2, initializer_range=0.2,
      # No dropout: the TF1 graph and the shim compute the same function.
      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  input_mask = tf.cast(tf.not_equal(input_ids, 0), tf.int32)
  model = modeling.BertModel(config=config, is_training=True,
                             input_ids=input_ids, input_mask=input_mask)
  return tf.concat([tf.layers.flatten(model.get_sequence_output()),
                    model.get_pooled_output()], axis=1)


def dcgan(noise, is_training):
  """DCGAN (tensorflow-gan's examples/cifar/networks.py): G then D.

  Its layer sizes are fixed in the file (a 32x32x3 image, 64 to 256
  filters, about 2M weights); only the noise and the batch are small.
  """
  networks = loader.cifar_dcgan_networks()
  images = networks.generator(noise, is_training=is_training)
  return networks.discriminator(images, None, is_training=is_training)


def dcgan_inference(noise):
  return dcgan(noise, is_training=False)


def dcgan_training(noise):
  return dcgan(noise, is_training=True)


BILM_OPTIONS = {
    # ELMo's options (bilm-tf's README) at a tiny size: char CNN with two
    # filter widths and one highway layer, a bidirectional 2-layer LSTM with
    # projections, cell and projection clipping and a skip connection.
    "bidirectional": True,
    "char_cnn": {"activation": "relu", "embedding": {"dim": 4},
                 "filters": [[1, 4], [2, 6]], "max_characters_per_token": 5,
                 "n_characters": 261, "n_highway": 1},
    # DropoutWrappers are built (is_training) but keep everything, and the
    # softmax is the full one, not sampled: the TF1 graph and the shim
    # compute the same function.
    "dropout": 0.0,
    "sample_softmax": False,
    "lstm": {"cell_clip": 3, "dim": 8, "n_layers": 2, "proj_clip": 3,
             "projection_dim": 4, "use_skip_connections": True},
    "n_tokens_vocab": 7, "batch_size": 2, "unroll_steps": 3,
}


def bilm_language_model(characters):
  """ELMo's biLM (bilm's bilm/training.py `LanguageModel`), training graph.

  `characters`: (batch, steps, chars) character ids. The reverse direction
  reads the tokens backwards and the next-token targets are derived from
  the characters. Output per example: the last layer's LSTM outputs of
  both directions (the collection the file adds them to) and the model's
  total loss.
  """
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  training = loader.bilm_training()
  options = BILM_OPTIONS
  characters = tf.cast(characters, tf.int64)  # the file's DTYPE_INT
  next_ids = tf.math.floormod(characters[:, :, 1],
                              options["n_tokens_vocab"])
  loader.bilm_inputs.update({
      "tokens_characters": characters,
      "tokens_characters_reverse": tf.reverse(characters, [1]),
      "next_token_id": next_ids,
      "next_token_id_reverse": tf.reverse(next_ids, [1]),
  })
  try:
    model = training.LanguageModel(options, is_training=True)
  finally:
    loader.bilm_inputs.clear()
  outputs = tf.get_collection("lstm_output_embeddings")
  batch = options["batch_size"]
  flat = [tf.reshape(tf.stack(steps, axis=1), [batch, -1])
          for steps in outputs]
  return tf.concat(flat + [tf.fill([batch, 1], model.total_loss)], axis=1)


_RNG = np.random.RandomState(11)
# Learning rates: small enough that SGD steps stay finite. The
# DCGAN in training mode normalizes a batch of 2 to +-1 features, which its
# 4096-wide last dense layer sums: a step of 0.05, fine for the others, or
# even 2e-4 makes the loss diverge there; 5e-5 keeps it finite (in two runs
# of the TF1 graph, from other random initial weights, four steps took it
# from 1.6 to 0.13 and from 0.25 to 0.36).
MODELS = {
    "bert_encoder": (bert_encoder,
                     np.array([[1, 5, 7, 9, 3, 0], [2, 4, 6, 0, 0, 0]],
                              np.int32), 0.05),
    "dcgan_inference": (dcgan_inference,
                        _RNG.randn(2, 4).astype(np.float32), 0.05),
    "dcgan_training": (dcgan_training, _RNG.randn(2, 4).astype(np.float32),
                       5e-5),
    "bilm_language_model": (bilm_language_model,
                            _RNG.randint(0, 261, size=(2, 3, 5)).astype(
                                np.int32), 0.05),
}
