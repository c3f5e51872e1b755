// Test-only fault injection for the crash matrix (t/t3610): with
// PACH_TEST_CRASH_AT=<point>[:<n>] the process kills itself with SIGKILL
// -- no destructor, no flush, exactly a kill -9 -- the n-th time (default
// the first) it reaches the named point.  Unset, a point costs one
// branch.  Documentation/design.adoc lists the points and what a crash at
// each leaves behind.
#pragma once

namespace pach {

void crash_point(const char *name);

} // namespace pach
