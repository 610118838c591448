// The schema version every backend reaches after migrate().
//
// Adding a migration: append its SQL to kMigrations in BOTH
// sqlite/sqlite_store.cc and postgres/postgres_store.cc, teach
// the memory backend (memory/) the new data, then bump kSchemaVersion. Each
// backend static_asserts that its migration list has exactly this many
// entries, so a migration written for one database only fails to compile.
#pragma once

namespace gh::store {

// 1: users.
// 2: refresh_families, refresh_tokens, denied_jtis, denied_subjects, signing_keys.
// 3: sessions (store/session_store.h).
// 4: audit_events (store/audit_store.h), login_attempts (store/lockout_store.h).
// 5: tenants, memberships, platform_admins, service_clients (store/tenant_store.h).
// 6: one_time_tokens (store/onetime_store.h).
// 7: mfa_totp, recovery_codes (store/mfa_store.h); refresh_tokens.amr.
// 8: identities, oauth_states (store/identity_store.h).
inline constexpr int kSchemaVersion = 8;

}  // namespace gh::store
