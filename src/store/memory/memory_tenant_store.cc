// The TenantStore of the memory backend (unit tests only).
#include <algorithm>

#include "store/memory/memory_state.h"

namespace gh::store::memory {
namespace {

class MemoryTenantStore final : public TenantStore {
 public:
  explicit MemoryTenantStore(MemoryState& s) : s_(s) {}

  Status create_tenant(const Tenant& t) override {
    std::lock_guard lock(s_.mu);
    if (!s_.tenants.emplace(t.id, t).second) return fail(StoreError::Conflict);
    return {};
  }

  Result<Tenant> find_tenant(std::string_view id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.tenants.find(id);
    if (it == s_.tenants.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Result<TenantPage> list_tenants(std::optional<std::string_view> after, std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    std::lock_guard lock(s_.mu);
    TenantPage page;
    for (auto it = after ? s_.tenants.upper_bound(*after) : s_.tenants.begin(); it != s_.tenants.end(); ++it) {
      if (page.tenants.size() == limit) {
        page.next_cursor = page.tenants.back().id;
        break;
      }
      page.tenants.push_back(it->second);
    }
    return page;
  }

  Status rename_tenant(std::string_view id, std::string_view name, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.tenants.find(id);
    if (it == s_.tenants.end()) return fail(StoreError::NotFound);
    it->second.name = name;
    it->second.updated_at = now;
    return {};
  }

  Status delete_tenant(std::string_view id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.tenants.find(id);
    if (it == s_.tenants.end()) return fail(StoreError::NotFound);
    s_.tenants.erase(it);
    std::erase_if(s_.members, [&](const auto& entry) { return entry.first.first == id; });
    std::erase_if(s_.service_clients, [&](const auto& entry) { return entry.second.tenant_id == id; });
    return {};
  }

  Status add_member(const Membership& m) override {
    std::lock_guard lock(s_.mu);
    if (!s_.tenants.contains(m.tenant_id) || !s_.users.contains(m.user_id)) return fail(StoreError::NotFound);
    if (!s_.members.emplace(std::pair{m.tenant_id, m.user_id}, m).second) return fail(StoreError::Conflict);
    return {};
  }

  Status set_member_role(std::string_view tenant_id, std::string_view user_id, std::string_view role,
                         Seconds now, std::span<const std::string> admin_roles) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.members.find(key(tenant_id, user_id));
    if (it == s_.members.end()) return fail(StoreError::NotFound);
    if (drops_admin(admin_roles, it->second.role, role) && !other_admin(tenant_id, user_id, admin_roles))
      return fail(StoreError::Conflict);
    it->second.role = role;
    it->second.updated_at = now;
    return {};
  }

  Status remove_member(std::string_view tenant_id, std::string_view user_id,
                       std::span<const std::string> admin_roles) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.members.find(key(tenant_id, user_id));
    if (it == s_.members.end()) return fail(StoreError::NotFound);
    if (drops_admin(admin_roles, it->second.role, std::nullopt) && !other_admin(tenant_id, user_id, admin_roles))
      return fail(StoreError::Conflict);
    s_.members.erase(it);
    return {};
  }

  Result<Membership> find_membership(std::string_view tenant_id, std::string_view user_id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.members.find(key(tenant_id, user_id));
    if (it == s_.members.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Result<MemberPage> list_members(std::string_view tenant_id, std::optional<std::string_view> after,
                                  std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    std::lock_guard lock(s_.mu);
    MemberPage page;
    auto it = s_.members.upper_bound(key(tenant_id, after.value_or("")));
    for (; it != s_.members.end() && it->first.first == tenant_id; ++it) {
      if (page.members.size() == limit) {
        page.next_cursor = page.members.back().user_id;
        break;
      }
      page.members.push_back(it->second);
    }
    return page;
  }

  Result<std::vector<Membership>> memberships_of(std::string_view user_id) override {
    std::lock_guard lock(s_.mu);
    std::vector<Membership> out;
    for (const auto& [k, m] : s_.members) {
      if (k.second == user_id) out.push_back(m);
    }
    return out;
  }

  Status set_platform_admin(std::string_view user_id, bool admin, Seconds /*now*/) override {
    std::lock_guard lock(s_.mu);
    if (!admin) {
      s_.platform_admins.erase(std::string(user_id));
      return {};
    }
    if (!s_.users.contains(user_id)) return fail(StoreError::NotFound);
    s_.platform_admins.emplace(user_id);
    return {};
  }

  Result<bool> is_platform_admin(std::string_view user_id) override {
    std::lock_guard lock(s_.mu);
    return s_.platform_admins.contains(user_id);
  }

  Status create_service_client(const ServiceClient& c) override {
    std::lock_guard lock(s_.mu);
    // Conflict before NotFound, as in SQL (the unique check fires before the foreign key's).
    if (s_.service_clients.contains(c.id)) return fail(StoreError::Conflict);
    if (!s_.tenants.contains(c.tenant_id)) return fail(StoreError::NotFound);
    s_.service_clients.emplace(c.id, c);
    return {};
  }

  Result<ServiceClient> find_service_client(std::string_view id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.service_clients.find(id);
    if (it == s_.service_clients.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Result<std::vector<ServiceClient>> list_service_clients(std::string_view tenant_id) override {
    std::lock_guard lock(s_.mu);
    std::vector<ServiceClient> out;
    for (const auto& [id, c] : s_.service_clients) {
      if (c.tenant_id == tenant_id) out.push_back(c);
    }
    return out;
  }

  Status set_service_client_secret(std::string_view id, std::string_view secret_hash, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.service_clients.find(id);
    if (it == s_.service_clients.end()) return fail(StoreError::NotFound);
    it->second.secret_hash = secret_hash;
    it->second.updated_at = now;
    return {};
  }

  Status delete_service_client(std::string_view id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.service_clients.find(id);
    if (it == s_.service_clients.end()) return fail(StoreError::NotFound);
    s_.service_clients.erase(it);
    return {};
  }

 private:
  static std::pair<std::string, std::string> key(std::string_view tenant_id, std::string_view user_id) {
    return {std::string(tenant_id), std::string(user_id)};
  }

  // REQUIRES: s_.mu held. Another member of the tenant holds one of `admin_roles`.
  bool other_admin(std::string_view tenant_id, std::string_view user_id,
                   std::span<const std::string> admin_roles) const {
    for (auto it = s_.members.lower_bound(key(tenant_id, "")); it != s_.members.end() && it->first.first == tenant_id;
         ++it) {
      if (it->first.second != user_id && std::ranges::find(admin_roles, it->second.role) != admin_roles.end())
        return true;
    }
    return false;
  }

  MemoryState& s_;
};

}  // namespace

std::unique_ptr<TenantStore> make_tenant_store(MemoryState& state) {
  return std::make_unique<MemoryTenantStore>(state);
}

}  // namespace gh::store::memory
