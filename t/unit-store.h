// For unit tests: a scratch directory holding a fresh store, removed
// afterwards.  dir is free for the test's own files (the store is at
// dir/.pach).
#pragma once

#include "plumbing/store.h"

#include <cstdlib>
#include <memory>
#include <string>

namespace pach {

struct TempStore {
	std::string dir;
	std::unique_ptr<Store> s;
	TempStore()
	{
		char t[] = "/tmp/pach-unit-XXXXXX";
		dir = mkdtemp(t);
		s = std::make_unique<Store>(Store::init(dir));
	}
	~TempStore() { std::system(("rm -rf '" + dir + "'").c_str()); }
	TempStore(const TempStore &) = delete;
	TempStore &operator=(const TempStore &) = delete;
};

} // namespace pach
