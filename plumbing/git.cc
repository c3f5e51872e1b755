#include "plumbing/git.h"

#include "plumbing/error.h"

#include <mutex>

#include <openssl/crypto.h>

namespace pach {

int git_check(int rc, const std::string &what)
{
	if (rc >= 0)
		return rc;
	const git_error *e = git_error_last();
	std::string msg = what;
	if (e && e->message) {
		msg += ": ";
		msg += e->message;
	}
	throw Error(Exit::fatal, msg);
}

void git_global_setup()
{
	static std::once_flag once;
	std::call_once(once, [] {
		// pach uses OpenSSL only for hashing: skip reading openssl.cnf.
		OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
		git_libgit2_init();
		// Refs and the objects libgit2 writes must survive a crash too.
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
		// We verify object hashes where it matters (fsck, transfers);
		// on every read it would cost a second SHA-1 of each blob.
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	});
}

} // namespace pach
