// Google Benchmark's own flags, checked before the library sees them: it
// aborts on some bad values (--benchmark_repetitions=-3) and prints its
// usage and exits 0 on others (--benchmark_format=xml). Here each of those
// is one line on stderr and exit code 2. (A filter that is no regular
// expression needs no check here: the library says so in one line and runs
// nothing, which main() turns into exit code 2.)
#pragma once

namespace loopbench::bench {

// Exits with code 2 and one line naming the flag and what it accepts when a
// value in argv is bad; returns when all are good.
void check_benchmark_flags(int argc, char** argv);

}  // namespace loopbench::bench
