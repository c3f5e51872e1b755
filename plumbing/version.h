// pach's version: `pach version`, and the tag of the worker image a
// Kubernetes executor asks for by default.
#pragma once

namespace pach {
inline constexpr const char *kPachVersion = "0.1.0";
}
