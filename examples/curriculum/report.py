"""The course's report: one HTML page with plots, readable without a server.

    DIR/index.html                 per example: the table, the loss curves of
                                   every row overlaid, the per-step |Δ loss|
                                   between consecutive rows, test accuracy,
                                   and links to each stage's lesson
    DIR/<example>_loss.png         the curves (also inline in the page)
    DIR/<example>_step_delta.png   the differences, log scale

The PNGs are drawn with matplotlib (its non-interactive Agg backend) and
embedded in the page as data URIs, so `index.html` alone can be mailed.
"""

import base64
import html
import os
import re

import matplotlib
matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

# A step difference of exactly 0 has no place on a log scale: drawn here.
ZERO_SHOWN_AT = 1e-10
LOSS_PNG = "%s_loss.png"
DELTA_PNG = "%s_step_delta.png"


def heading_anchor(heading):
  """GitHub's anchor of a Markdown heading ("Stage 1 — functional v1" ->
  "stage-1--functional-v1")."""
  text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
  return text.replace(" ", "-")


def lesson_link(readme, stage_number):
  """`readme`#anchor of the heading "Stage N ..." (the README alone when it
  has none)."""
  try:
    with open(readme, encoding="utf-8") as f:
      text = f.read()
  except OSError:
    return None
  match = re.search(r"^#+\s+(Stage %d\b.*)$" % stage_number, text,
                    re.MULTILINE)
  return readme + ("#" + heading_anchor(match.group(1)) if match else "")


def _plot_losses(result, path):
  fig, ax = plt.subplots(figsize=(7, 3.6))
  for i, row in enumerate(result.rows):
    steps = np.arange(1, len(row.losses) + 1)
    # The rows should lie on each other: widest first, so each shows.
    ax.plot(steps, row.losses, label=row.label, linewidth=4.0 - 0.7 * i,
            alpha=0.8)
  ax.set_xlabel("training step")
  ax.set_ylabel("training loss (the step's batch)")
  ax.set_title("%s: training loss of every row" % result.example.name)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def step_differences(result):
  """[(label, |Δ loss| per step)] between consecutive rows."""
  pairs = []
  for before, after in zip(result.rows, result.rows[1:]):
    difference = np.abs(after.losses.astype(np.float64) - before.losses)
    pairs.append(("%s vs %s" % (after.label, before.label), difference))
  return pairs


def _plot_differences(result, path):
  fig, ax = plt.subplots(figsize=(7, 3.6))
  for label, difference in step_differences(result):
    steps = np.arange(1, len(difference) + 1)
    ax.plot(steps, np.maximum(difference, ZERO_SHOWN_AT), label=label,
            marker=".", markersize=3, linewidth=0.8)
  ax.set_yscale("log")
  ax.set_xlabel("training step")
  ax.set_ylabel("|Δ training loss|")
  ax.set_title("%s: per-step |Δ loss| between consecutive rows "
               "(0 drawn at %.0e)" % (result.example.name, ZERO_SHOWN_AT))
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def _image(folder, name, alt):
  with open(os.path.join(folder, name), "rb") as f:
    data = base64.b64encode(f.read()).decode("ascii")
  return ('<p><a href="%s"><img alt="%s" src="data:image/png;base64,%s">'
          '</a></p>' % (html.escape(name), html.escape(alt), data))


def _cell(text):
  return html.escape(text.replace("\\|", "|"))


def _table(result, header):
  lines = ["<table>", "<tr>" + "".join(
      "<th>%s</th>" % _cell(h) for h in header(result)) + "</tr>"]
  for row in result.rows:
    lines.append("<tr>" + "".join(
        "<td>%s</td>" % _cell(c) for c in (row.label,) + row.cells) +
                 "</tr>")
  lines.append("</table>")
  return "\n".join(lines)


def _lessons(result, folder):
  readme = os.path.join(result.example.folder, "README.md")
  items = []
  for row in result.rows:
    if row.stage is None:
      continue
    link = lesson_link(readme, row.stage.number)
    title = row.stage.title  # its docstring's first line
    if not title.lower().startswith("stage"):
      title = "Stage %d: %s" % (row.stage.number, title)
    title = html.escape(title)
    if link is None:
      items.append("<li>%s</li>" % title)
    else:
      items.append('<li><a href="%s">%s</a></li>' % (
          html.escape(os.path.relpath(link, folder)), title))
  return "<ul>\n%s\n</ul>" % "\n".join(items)


STYLE = """
body { font-family: sans-serif; max-width: 72em; margin: 1em auto; }
table { border-collapse: collapse; font-size: 85%; }
td, th { border: 1px solid #bbb; padding: 2px 6px; text-align: left; }
code { background: #f3f3f3; }
"""


def write(folder, results, header, command):
  """Writes the report of `results` (main.ExampleResult, in order) into
  `folder` (which exists); `header(result)` gives the table's header;
  `command` is the command that made it. Returns the page's path."""
  parts = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">',
           "<title>The curriculum</title><style>%s</style></head><body>" %
           STYLE, "<h1>The curriculum: every example, every stage</h1>",
           "<p>Made by <code>%s</code>. Every row trains from the same "
           "initial weights on the same batches with the same random "
           "numbers at every step (dropout masks included); the curves of "
           "a correct migration lie on each other.</p>" %
           html.escape(command)]
  for result in results:
    name = result.example.name
    _plot_losses(result, os.path.join(folder, LOSS_PNG % name))
    _plot_differences(result, os.path.join(folder, DELTA_PNG % name))
    accuracy = ", ".join("%s %.3f" % (row.label, row.test_accuracy)
                         for row in result.rows)
    parts += [
        '<h2 id="%s">%s</h2>' % (html.escape(name), html.escape(name)),
        "<h3>The lessons</h3>", _lessons(result, folder),
        "<h3>The table</h3>", _table(result, header),
        "<p>Test accuracy: %s</p>" % html.escape(accuracy),
        "<h3>Training loss, every row</h3>",
        _image(folder, LOSS_PNG % name, "%s training loss" % name),
        "<h3>Per-step |Δ loss| between consecutive rows</h3>",
        _image(folder, DELTA_PNG % name, "%s per-step differences" % name)]
  parts.append("</body></html>")
  page = os.path.join(folder, "index.html")
  with open(page, "w", encoding="utf-8") as f:
    f.write("\n".join(parts) + "\n")
  return page
