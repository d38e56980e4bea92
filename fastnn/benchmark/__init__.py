"""fastnn's benchmark harness: fastnn against the tools users would otherwise use.

``fastnn bench`` (fastnn.bench_cli) drives it; the pieces, each with one job:

* ``workloads``    what is measured (W1..W6 of the performance contract), as data;
* ``data``         the rows every peer trains and predicts on, and the starting weights;
* ``peers``        one module per library, each behind trainer / predictor / sgemm;
* ``worker``       one peer in its own process, timing what it is asked to;
* ``runner``       the processes, their thread limits, and the interleaved rounds;
* ``environment``  the benchmark processes' environment: OpenBLAS unpinned, thread
                   limits, the BLAS kernel loaded (the one place for that fix);
* ``machine``      the CPU, its SIMD / bf16 / AMX flags, what fastnn chose;
* ``peak``         the fp32 FMA peak, measured;
* ``report``       medians, ratios and shares of the peak as Markdown and JSON.
"""
