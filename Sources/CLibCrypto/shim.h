// OpenSSL's libcrypto, as Debian's libssl-dev installs it: Ed25519 and SHA-256 for the node's identity.
// libcurl already loads libcrypto into every ashita process, so this costs no memory of its own.
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/objects.h>
