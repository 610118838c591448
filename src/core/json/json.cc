#include "core/json/json.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "core/base/encoding.h"

namespace gh::json {

const char* describe(JsonError e) {
  switch (e) {
    case JsonError::Malformed: return "the body is not valid JSON";
    case JsonError::NotObject: return "the body must be a JSON object";
    case JsonError::DuplicateKey: return "a member name appears twice";
    case JsonError::TooDeep: return "the JSON document is nested too deeply";
    case JsonError::InvalidUtf8: return "a string is not valid UTF-8";
    case JsonError::MissingField: return "a required field is missing";
    case JsonError::WrongType: return "a field has the wrong type";
    case JsonError::TooLong: return "a field is too long";
    case JsonError::ControlChar: return "a field contains a control character";
    case JsonError::UnknownField: return "the body contains an unknown field";
  }
  return "unknown JSON error";
}
GH_DEFINE_ERROR_CATEGORY(JsonError, "json")

namespace {

// A DOM builder on nlohmann's SAX interface that records the first violation
// of our stricter rules. Hand-written because nlohmann's own DOM parser has no
// duplicate-key hook (it keeps the last value silently).
class StrictBuilder final : public nlohmann::json_sax<Json> {
 public:
  explicit StrictBuilder(std::size_t max_depth) : max_depth_(max_depth) {}

  bool null() override { return put(Json(nullptr)); }
  bool boolean(bool v) override { return put(Json(v)); }
  bool number_integer(number_integer_t v) override { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(Json(v)); }
  bool string(string_t& v) override {
    if (!is_valid_utf8(v)) return stop(JsonError::InvalidUtf8);
    return put(Json(std::move(v)));
  }
  bool binary(binary_t&) override { return stop(JsonError::Malformed); }
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool key(string_t& k) override {
    if (!is_valid_utf8(k)) return stop(JsonError::InvalidUtf8);
    Json& obj = *stack_.back();
    if (obj.contains(k)) return stop(JsonError::DuplicateKey);
    pending_key_ = std::move(k);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_array() override { return close(); }
  // Syntax errors leave error_ empty: parse_value() then tells bad UTF-8 from bad JSON.
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

  std::optional<JsonError> error_;
  Json root_;

 private:
  bool stop(JsonError e) {
    error_ = e;
    return false;
  }
  // Places a value in the current container (or as the root) and returns where it went.
  Json* place(Json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *stack_.back();
    if (top.is_object()) {
      Json& slot = top[pending_key_];
      slot = std::move(v);
      return &slot;
    }
    top.push_back(std::move(v));
    return &top.back();
  }
  bool put(Json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(Json&& container) {
    if (stack_.size() >= max_depth_) return stop(JsonError::TooDeep);
    stack_.push_back(place(std::move(container)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::size_t max_depth_;
  std::vector<Json*> stack_;
  std::string pending_key_;
};

}  // namespace

Result<Json> parse_value(std::string_view text, const ParseLimits& limits) {
  StrictBuilder b(limits.max_depth);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &b, nlohmann::json::input_format_t::json, true);
  } catch (const std::exception&) {
    ok = false;
  }
  if (!ok || b.error_) {
    // nlohmann reports ill-formed UTF-8 as a parse error; tell the two apart.
    if (!b.error_ && !is_valid_utf8(text)) return fail(JsonError::InvalidUtf8);
    return fail(b.error_.value_or(JsonError::Malformed));
  }
  return std::move(b.root_);
}

Result<Json> parse_object(std::string_view text, const ParseLimits& limits) {
  auto v = parse_value(text, limits);
  if (!v) return v;
  if (!v->is_object()) return fail(JsonError::NotObject);
  return v;
}

Result<std::optional<std::string>> optional_string(const Json& obj, std::string_view key,
                                                   std::size_t max_len) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return fail(JsonError::WrongType, fmt::format("'{}' must be a string", key));
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_len)
    return fail(JsonError::TooLong, fmt::format("'{}' must be at most {} bytes", key, max_len));
  if (std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
    return fail(JsonError::ControlChar, fmt::format("'{}' must not contain control characters", key));
  return std::optional<std::string>{s};
}

Result<std::string> required_string(const Json& obj, std::string_view key, std::size_t max_len) {
  auto v = optional_string(obj, key, max_len);
  if (!v) return fail(v.error());
  if (!v->has_value()) return fail(JsonError::MissingField, fmt::format("'{}' is required", key));
  return std::move(**v);
}

Status only_fields(const Json& obj, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, _] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      return fail(JsonError::UnknownField, fmt::format("unknown field '{}'", k));
  }
  return {};
}

}  // namespace gh::json
