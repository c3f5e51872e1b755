// Receiving packs: ranges downloaded several at once into
// .pach/pach/fetch (resumed by the next fetch if interrupted), each pack
// verified and indexed by a thread of its own while it arrives, and moved
// into objects/pack only once whole and correct.
#pragma once

#include "plumbing/store.h"
#include "remote/backend.h"
#include "remote/sync.h"

#include <string>
#include <vector>

namespace pach::remote {

struct IncomingPack {
	std::string name;   // checksum hex: the remote's packs/<name>.pack
	uint64_t size = 0;
	std::string key;    // where it is instead, if not there (a worker's output)
};

// Dies on any error or corruption; then nothing has entered the store.
void download_packs(Store &s, Backend &b, const std::vector<IncomingPack> &packs, TransferStats &stats);

} // namespace pach::remote
