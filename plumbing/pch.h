// The standard and fmt headers most translation units include, compiled
// once per build into a precompiled header ($(BUILD)/gen/pch.h.gch) that
// the Makefile makes every compile include first: parsing them was about
// a third of a file's compile time.  Only headers that never change
// belong here (a project header would rebuild everything on each edit);
// every file still includes what it uses, so a build without the
// precompiled header (fuzz, other compilers) works the same.  No include
// guard: only the Makefile includes it, once (-include).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
