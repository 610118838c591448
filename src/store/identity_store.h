// IdentityStore: the identities at external providers (Google, GitHub, any
// OpenID Connect issuer) linked to local users, and the short-lived server-side
// state of federated sign-ins (docs/oauth.md). Schema version >= 8.
//
// An identity is keyed on (issuer, subject), never on an email address (OIDC
// Core §5.7): that pair is unique, so two concurrent first sign-ins with the
// same identity leave one row (the loser gets Conflict). Deleting a user
// deletes their identities.
//
// Flow state: a started sign-in (state, nonce, PKCE verifier, return_to) and
// the one-time code of the native flow are stored under the hex SHA-256 of a
// random handle, never the handle; taking one out is atomic and single use
// (of two concurrent takers exactly one gets it). The payload is opaque to the
// store (JSON written by the service). Thread-safe; methods block.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::store {

struct User;

struct Identity {
  std::string id;        // UUIDv4
  std::string user_id;   // the local user it signs in as
  std::string provider;  // config name: google, github, corp
  std::string issuer;    // exact issuer (https://github.com for GitHub)
  std::string subject;   // sub / GitHub numeric id, <= 255 ASCII
  std::string email;     // as the provider last said; empty if none
  bool email_verified = false;
  std::string name;  // display name at the provider; may be empty
  Seconds created_at{};
  Seconds last_login_at{};
};

// What a piece of flow state is: a started flow (keyed by the cookie's flow id)
// or a native one-time code. Taking one kind never returns the other.
enum class OAuthStateKind : std::uint8_t {
  Flow = 1,
  Code = 2,
};

struct OAuthState {
  std::string hash;  // hex SHA-256 of the handle: the key
  OAuthStateKind kind = OAuthStateKind::Flow;
  std::string data;  // JSON written by the service; may contain the PKCE verifier
  Seconds created_at{};
  Seconds expires_at{};
};

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  // Inserts an identity for an existing user. Conflict if (issuer, subject)
  // or id is taken; NotFound if the user does not exist.
  [[nodiscard]] virtual Status create_identity(const Identity& identity) = 0;
  // Inserts `user` and `identity` (whose user_id is user.id) in one
  // transaction: both or neither. Conflict if the user's id or email or the
  // identity's (issuer, subject) is taken.
  [[nodiscard]] virtual Status create_user_with_identity(const User& user,
                                                         const Identity& identity) = 0;
  // NotFound if no identity has this (issuer, subject).
  [[nodiscard]] virtual Result<Identity> find_identity(std::string_view issuer,
                                                       std::string_view subject) = 0;
  // The user's identities ordered by created_at, then id (empty if none).
  [[nodiscard]] virtual Result<std::vector<Identity>> list_identities(std::string_view user_id) = 0;
  // Records a sign-in: email, email_verified, name and last_login_at of the
  // identity `id` are replaced. NotFound if absent.
  [[nodiscard]] virtual Status update_identity_login(const Identity& identity) = 0;
  // Deletes the user's identity `id`, only if the user keeps a way to sign in
  // afterwards (a non-empty password_hash or another identity), checked in the
  // same transaction (two concurrent unlinks cannot remove both of the last
  // two). NotFound if the user has no such identity; Conflict if it is the
  // last way in.
  [[nodiscard]] virtual Status delete_identity(std::string_view user_id, std::string_view id) = 0;

  // Stores flow state. Conflict if the hash exists.
  [[nodiscard]] virtual Status put_state(const OAuthState& state) = 0;
  // Takes the state out (it can never be taken again) if it exists with this
  // kind and now < expires_at. NotFound otherwise: unknown, other kind, taken
  // and expired are one answer.
  [[nodiscard]] virtual Result<OAuthState> take_state(std::string_view hash, OAuthStateKind kind,
                                                      Seconds now) = 0;
  // Deletes state with expires_at <= now. The number deleted.
  [[nodiscard]] virtual Result<std::int64_t> purge_states(Seconds now) = 0;
};

}  // namespace gh::store
