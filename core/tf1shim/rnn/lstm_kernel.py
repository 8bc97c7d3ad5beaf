"""TF1's LSTM step on TensorFlow's fused LSTM kernel, `LSTMBlockCell`.

TF1's `LSTMCell` and `BasicLSTMCell` run one step as about a dozen ops
(concat, matmul, bias add, split, three sigmoids, two tanhs, the products
and sums), and their gradient as twice that. TensorFlow still ships the
kernel TF1's `tf.contrib.rnn.LSTMBlockCell` ran, as `tf.raw_ops.LSTMBlockCell`
and `tf.raw_ops.LSTMBlockCellGrad`: the same step in one op, on the same
joint kernel `[input + units, 4 * units]` with TF1's gate order i, j, f, o,
`forget_bias` added to f and optional peepholes (`w_i_diag`, `w_f_diag`,
`w_o_diag`). Only the Python gradient function left with
contrib; `register_gradient` below provides it (the chain rule through
`LSTMBlockCellGrad`, the concat and the matmul), once, for every graph and
the eager tape.

The fused step differs from TF1's ops only in float rounding (one Eigen
contraction instead of a MatMul; each gate's sums in another order): within
a few ulps per step, checked against TF1's own cells by
core/tests/rnn_cells_test.py. Under `tf.function` an LSTM training step is
1.1-1.2x faster this way (README: benchmarks). `fused_step_applies` says
when the kernel computes TF1's exact formula; otherwise the cells run TF1's
ops as written.
"""

import numbers

import tensorflow as tf

_OP = "LSTMBlockCell"
# The kernel's dtypes (its `T` attribute).
_KERNEL_DTYPES = (tf.float16, tf.float32)


def fused_step_applies(dtype, activation, forget_bias, cell_clip):
  """Whether the kernel and its gradient compute TF1's step.

  The kernel hard-codes tanh as the activation and takes `forget_bias` as a
  float attribute. It clips the cell, but `LSTMBlockCellGrad` passes the
  gradient through the clip where TF1's `clip_by_value` stops it (measured:
  every input's gradient differs once a value is clipped), so a step with
  `cell_clip` runs TF1's ops.
  """
  return (tf.as_dtype(dtype) in _KERNEL_DTYPES
          and activation is tf.tanh
          and isinstance(forget_bias, numbers.Real)
          and cell_clip is None)


def fused_step(inputs, c_prev, h_prev, kernel, bias, forget_bias,
               peepholes=None):
  """One TF1 LSTM step; returns the new (c, h).

  Args:
    inputs: [batch, depth].
    c_prev, h_prev: [batch, units].
    kernel: [depth + units, 4 * units], gates i, j, f, o.
    bias: [4 * units].
    forget_bias: a float, added to the forget gate's pre-activation.
    peepholes: None, or (w_i_diag, w_f_diag, w_o_diag), each [units].
  """
  dtype = inputs.dtype
  kernel = tf.convert_to_tensor(kernel, dtype=dtype)
  bias = tf.convert_to_tensor(bias, dtype=dtype)
  if peepholes is None:
    # The kernel takes peepholes in any case; zeros of a static shape are
    # one constant in a graph.
    units = c_prev.shape[-1]
    zeros = tf.zeros([units] if units is not None else tf.shape(c_prev)[1:],
                     dtype)
    w_i, w_f, w_o = zeros, zeros, zeros
  else:
    w_i, w_f, w_o = (tf.convert_to_tensor(w, dtype=dtype) for w in peepholes)
  out = tf.raw_ops.LSTMBlockCell(
      x=inputs, cs_prev=c_prev, h_prev=h_prev, w=kernel, wci=w_i, wcf=w_f,
      wco=w_o, b=bias, forget_bias=float(forget_bias),
      cell_clip=-1.0,  # <= 0: no clipping (fused_step_applies).
      use_peephole=peepholes is not None)
  return out.cs, out.h


def _lstm_block_cell_grad(op, *grads):
  """Gradient of LSTMBlockCell with respect to its eight inputs.

  Only the outputs `cs` and `h` carry gradients (the others are the step's
  intermediates, kept for this function). `LSTMBlockCellGrad` gives the
  gradients of c_prev, the peepholes and the gate pre-activations `dicfo`;
  the rest is the matmul `concat([x, h_prev]) @ w`'s chain rule.
  """
  x, cs_prev, h_prev, w, wci, wcf, wco, b = op.inputs
  i, cs, f, o, ci, co, h = op.outputs
  cs_grad, h_grad = grads[1], grads[6]
  if cs_grad is None:
    cs_grad = tf.zeros_like(cs)
  if h_grad is None:
    h_grad = tf.zeros_like(h)
  cs_prev_grad, dicfo, wci_grad, wcf_grad, wco_grad = (
      tf.raw_ops.LSTMBlockCellGrad(
          x=x, cs_prev=cs_prev, h_prev=h_prev, w=w, wci=wci, wcf=wcf,
          wco=wco, b=b, i=i, cs=cs, f=f, o=o, ci=ci, co=co, cs_grad=cs_grad,
          h_grad=h_grad, use_peephole=op.get_attr("use_peephole")))
  xh_grad = tf.matmul(dicfo, w, transpose_b=True)
  depth, units = x.shape[1], h_prev.shape[1]
  if depth is None or units is None:
    depth, units = tf.shape(x)[1], tf.shape(h_prev)[1]
  x_grad, h_prev_grad = tf.split(xh_grad, [depth, units], axis=1)
  w_grad = tf.matmul(tf.concat([x, h_prev], 1), dicfo, transpose_a=True)
  b_grad = tf.reduce_sum(dicfo, axis=0)
  return (x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad,
          wco_grad, b_grad)


def register_gradient():
  """Registers the op's gradient unless TensorFlow has one (idempotent)."""
  try:
    tf.RegisterGradient(_OP)(_lstm_block_cell_grad)
  except KeyError:  # Registered already (by this module or TensorFlow).
    pass


register_gradient()
