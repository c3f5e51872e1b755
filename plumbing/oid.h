// A git object id (SHA-1) and the hashing context that makes them.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace pach {

struct Oid {
	std::array<unsigned char, 20> b{};

	static std::optional<Oid> from_hex(std::string_view hex);
	std::string hex() const;
	bool is_zero() const;
	bool operator==(const Oid &o) const { return b == o.b; }
	bool operator!=(const Oid &o) const { return b != o.b; }
	bool operator<(const Oid &o) const { return std::memcmp(b.data(), o.b.data(), 20) < 0; }
};

struct OidHash {
	size_t operator()(const Oid &o) const noexcept
	{
		size_t h;
		std::memcpy(&h, o.b.data(), sizeof h);
		return h;
	}
};

// SHA-1 through OpenSSL's EVP interface: several times faster than git's
// collision-detecting SHA-1, and copyable so a pack writer can rewind.
class Sha1 {
public:
	Sha1();
	~Sha1();
	Sha1(const Sha1 &o);
	Sha1 &operator=(const Sha1 &o);
	void update(const void *p, size_t n);
	Oid final();

private:
	EVP_MD_CTX *ctx_;
};

enum class ObjType : int { none = 0, commit = 1, tree = 2, blob = 3, tag = 4 };
const char *type_name(ObjType t);
ObjType type_from_name(std::string_view s);

// The id git gives an object of this type and content.
Oid hash_object(ObjType t, const void *data, size_t n);
// "blob 1234\0" — the header hashed in front of the content.
std::string object_header(ObjType t, uint64_t size);

} // namespace pach
