"""fastnn's benchmark harness: fastnn against the tools users would otherwise use.

``fastnn bench`` (fastnn.bench_cli) drives it; the pieces, each with one job:

* ``workloads``  what is measured (W1..W5 of the performance contract), as data;
* ``data``       the rows every peer trains and predicts on, and the starting weights;
* ``peers``      one module per library, each behind trainer / predictor / sgemm;
* ``worker``     one peer in its own process, timing what it is asked to;
* ``runner``     the processes, their thread limits, and the interleaved rounds;
* ``report``     medians, ratios and machine facts as Markdown and JSON.
"""
