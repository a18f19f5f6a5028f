#include <algorithm>
#include <set>

#include <sodium.h>

#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>

#include "core/sodium_init.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;

bool is_lower_hex(std::string_view s, std::size_t digits) {
  return s.size() == digits && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_nonce(const json& v) {
  return v.is_string() && is_lower_hex(v.get_ref<const std::string&>(), 32);
}

std::string random_nonce() {
  std::array<std::uint8_t, 16> bytes;
  detail::ensure_sodium();
  randombytes_buf(bytes.data(), bytes.size());
  return to_hex(bytes);
}

Envelope signed_envelope(Envelope e, const PrivateKey& key) {
  e.sender = key.address();
  e.sig = personal_sign(key, as_bytes(e.signing_payload()));
  return e;
}

const std::set<std::string>& allowed_fields() {
  static const std::set<std::string> kFields = {"v",     "kind", "sender", "recipient", "topic",
                                                "nonce", "ts",   "body",   "acks",      "sig"};
  return kFields;
}

}  // namespace

bool is_topic(std::string_view t) {
  return !t.empty() && t.size() <= 200 && std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string_view to_string(RejectReason r) {
  switch (r) {
    case RejectReason::malformed:
      return "malformed";
    case RejectReason::too_large:
      return "too_large";
    case RejectReason::bad_signature:
      return "bad_signature";
    case RejectReason::wrong_recipient:
      return "wrong_recipient";
    case RejectReason::wrong_topic:
      return "wrong_topic";
    case RejectReason::expired:
      return "expired";
    case RejectReason::replay:
      return "replay";
    case RejectReason::unattested_device:
      return "unattested_device";
    case RejectReason::rate_limited:
      return "rate_limited";
    case RejectReason::not_allowed:
      return "not_allowed";
  }
  return "unknown";
}

Envelope Envelope::message(const PrivateKey& key, const Address& recipient, std::string body,
                           std::int64_t now_ms) {
  Envelope e;
  e.recipient = recipient;
  e.nonce = random_nonce();
  e.ts = now_ms;
  e.body = std::move(body);
  return signed_envelope(std::move(e), key);
}

Envelope Envelope::broadcast(const PrivateKey& key, std::string topic, std::string body,
                             std::int64_t now_ms) {
  if (!is_topic(topic)) throw std::invalid_argument("topic must match ^[a-z0-9_]{1,200}$");
  Envelope e;
  e.topic = std::move(topic);
  e.nonce = random_nonce();
  e.ts = now_ms;
  e.body = std::move(body);
  return signed_envelope(std::move(e), key);
}

Envelope Envelope::ack(const PrivateKey& key, const Address& recipient,
                       std::vector<std::string> nonces, std::int64_t now_ms) {
  if (nonces.empty() || nonces.size() > kMaxAcks) {
    throw std::invalid_argument("an ack carries 1..256 nonces");
  }
  Envelope e;
  e.kind = EnvelopeKind::ack;
  e.recipient = recipient;
  e.nonce = random_nonce();
  e.ts = now_ms;
  e.acks = std::move(nonces);
  return signed_envelope(std::move(e), key);
}

json Envelope::to_json() const {
  json j = {{"v", 1},
            {"kind", kind == EnvelopeKind::message ? "message" : "ack"},
            {"sender", sender.to_hex()},
            {"nonce", nonce},
            {"ts", ts},
            {"sig", sig.to_hex()}};
  if (recipient) j["recipient"] = recipient->to_hex();
  if (topic) j["topic"] = *topic;
  if (kind == EnvelopeKind::message) {
    j["body"] = body;
  } else {
    j["acks"] = acks;
  }
  return j;
}

std::string Envelope::signing_payload() const {
  json j = to_json();
  j.erase("sig");
  auto text = canonical_json(j);
  if (!text) throw std::invalid_argument("envelope has no canonical form: " + text.error().message);
  return std::move(*text);
}

Result<Envelope, RejectReason> parse_envelope(const json& j) {
  const auto malformed = fail(RejectReason::malformed);
  if (!j.is_object()) return malformed;
  for (const auto& [name, value] : j.items()) {
    if (!allowed_fields().count(name)) return malformed;
  }
  const auto str = [&](const char* name) -> const std::string* {
    const auto it = j.find(name);
    return it != j.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != 1) return malformed;

  Envelope e;
  const std::string* kind = str("kind");
  if (!kind || (*kind != "message" && *kind != "ack")) return malformed;
  e.kind = *kind == "message" ? EnvelopeKind::message : EnvelopeKind::ack;

  const std::string* sender = str("sender");
  auto sender_address = sender ? Address::parse(*sender) : fail(AddressError::malformed);
  if (!sender_address) return malformed;
  e.sender = *sender_address;

  const bool has_recipient = j.contains("recipient"), has_topic = j.contains("topic");
  if (has_recipient == has_topic) return malformed;
  if (has_recipient) {
    const std::string* r = str("recipient");
    auto a = r ? Address::parse(*r) : fail(AddressError::malformed);
    if (!a) return malformed;
    e.recipient = *a;
  } else {
    const std::string* t = str("topic");
    if (!t || !is_topic(*t)) return malformed;
    e.topic = *t;
  }

  const std::string* nonce = str("nonce");
  if (!nonce || !is_lower_hex(*nonce, 32)) return malformed;
  e.nonce = *nonce;

  const auto ts = j.find("ts");
  if (ts == j.end() || !ts->is_number_integer() || ts->get<std::int64_t>() < 0 ||
      ts->get<std::int64_t>() > kMaxJsonInteger) {
    return malformed;
  }
  e.ts = ts->get<std::int64_t>();

  if (e.kind == EnvelopeKind::message) {
    const std::string* body = str("body");
    if (!body || j.contains("acks")) return malformed;
    e.body = *body;
  } else {
    const auto acks = j.find("acks");
    if (j.contains("body") || acks == j.end() || !acks->is_array() || acks->empty() ||
        acks->size() > kMaxAcks || !std::all_of(acks->begin(), acks->end(), is_nonce)) {
      return malformed;
    }
    std::set<std::string> seen;
    for (const auto& n : *acks) {
      if (!seen.insert(n.get<std::string>()).second) return malformed;
      e.acks.push_back(n.get<std::string>());
    }
  }

  const std::string* sig = str("sig");
  auto parsed_sig = sig ? Signature::parse(*sig) : fail(SignatureError::malformed);
  if (!parsed_sig) return malformed;
  e.sig = *parsed_sig;
  return e;
}

Result<Envelope, RejectReason> validate_envelope(const json& j, const Arrival& arrival,
                                                 std::int64_t now_ms,
                                                 const EnvelopeLimits& limits) {
  auto e = parse_envelope(j);  // rule 1
  if (!e) return e;

  auto whole = canonical_json(j);  // rule 2
  if (!whole) return fail(RejectReason::malformed);
  if (whole->size() > std::min(limits.max_bytes, kMaxEnvelopeBytes)) {
    return fail(RejectReason::too_large);
  }

  json unsigned_part = j;  // rule 3: over exactly what arrived, less "sig"
  unsigned_part.erase("sig");
  auto payload = canonical_json(unsigned_part);
  if (!payload) return fail(RejectReason::malformed);
  auto signer = ecrecover(as_bytes(*payload), e->sig);
  if (!signer || *signer != e->sender) return fail(RejectReason::bad_signature);

  if (e->recipient) {  // rule 4
    if (arrival.room_topic || !arrival.receiver || *arrival.receiver != *e->recipient) {
      return fail(RejectReason::wrong_recipient);
    }
  } else if (!arrival.room_topic || *arrival.room_topic != *e->topic) {
    return fail(RejectReason::wrong_topic);
  }

  if (e->ts < now_ms - limits.max_age_ms || e->ts > now_ms + kMaxClockSkewMs) {  // rule 5
    return fail(RejectReason::expired);
  }
  return e;
}

}  // namespace mrt
