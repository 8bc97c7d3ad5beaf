"""A team's TF1 model file that appears nowhere else in this repository,
for the scaffolder's tests (core/tests/scaffold_test.py) and CI's in-repo
check (tools/scaffold_check.py): `glyph_net` is a TF1 model function
`(images, is_training) -> logits` (6x6x1 images, 3 classes); `broken_net`
fails in a TF1 graph (a kernel shaped for other inputs).
"""

THEIR_MODEL = '''\
"""A team's TF1 model: a CNN on tf.compat.v1.layers, a get_variable head."""
import tensorflow as tf

v1 = tf.compat.v1
WEIGHT_DECAY = 4e-4


def _l2(weights):
  return WEIGHT_DECAY * tf.nn.l2_loss(weights)


def glyph_net(images, is_training):
  del is_training
  with v1.variable_scope("glyph_net"):
    with v1.variable_scope("features"):
      x = v1.layers.conv2d(images, 6, 3, padding="same",
                           activation=tf.nn.relu, kernel_regularizer=_l2)
      x = v1.layers.max_pooling2d(x, 2, 2)
      x = v1.layers.flatten(x)
    with v1.variable_scope("head"):
      weights = v1.get_variable("weights", [x.shape[-1], 3],
                                regularizer=_l2)
      biases = v1.get_variable("biases", [3],
                               initializer=v1.zeros_initializer())
    return tf.matmul(x, weights) + biases


def broken_net(images, is_training):
  del is_training
  with v1.variable_scope("broken_net"):
    weights = v1.get_variable("weights", [7, 3])
    return tf.matmul(v1.layers.flatten(images), weights)
'''
