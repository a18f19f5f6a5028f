// Envelopes (PROTOCOL §4) checked and made outside a node, and the conformance vectors (§7):
// what a service, a test peer or a homeserver module (issue: rules in the homeserver) needs.
#include <chrono>
#include <optional>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <mrt/broadcast_event_rule.hpp>
#include <mrt/envelope.hpp>

#include "bindings.hpp"
#include "vector_runner.hpp"

namespace mrt::python {
namespace {

using json = nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

py::dict as_dict(const Envelope& e) {
  py::dict d;
  d["kind"] = e.kind == EnvelopeKind::message ? "message" : "ack";
  d["sender"] = e.sender.to_hex();
  d["recipient"] = e.recipient ? py::object(py::str(e.recipient->to_hex())) : py::none();
  d["topic"] = e.topic ? py::object(py::str(*e.topic)) : py::none();
  d["nonce"] = e.nonce;
  d["ts"] = e.ts;
  d["body"] = e.body;
  d["acks"] = e.acks;
  d["sig"] = e.sig.to_hex();
  return d;
}

}  // namespace

void bind_envelopes(py::module_& m) {
  m.def(
      "validate_envelope",
      [](const std::string& text, const std::optional<std::string>& receiver,
         const std::optional<std::string>& topic, std::optional<std::int64_t> now,
         std::size_t max_bytes, std::int64_t max_age_ms) {
        if (receiver.has_value() == topic.has_value())
          throw py::value_error("give exactly one of receiver (unicast) and topic (broadcast)");
        Arrival arrival;
        if (receiver) arrival.receiver = to_address(*receiver);
        arrival.room_topic = topic;
        const json parsed = json::parse(text, nullptr, false);
        if (parsed.is_discarded()) raise(errors().envelope, "malformed", "not JSON");
        auto e = validate_envelope(parsed, arrival, now.value_or(now_ms()),
                                   {.max_bytes = max_bytes, .max_age_ms = max_age_ms});
        if (!e)
          raise(errors().envelope, to_string(e.error()),
                "envelope refused by PROTOCOL §4: " + std::string(to_string(e.error())));
        return as_dict(*e);
      },
      py::arg("envelope"), py::kw_only(), py::arg("receiver") = py::none(),
      py::arg("topic") = py::none(), py::arg("now_ms") = py::none(),
      py::arg("max_bytes") = kMaxEnvelopeBytes, py::arg("max_age_ms") = kDefaultMaxAgeMs,
      "PROTOCOL §4 rules 1-5 on an envelope's JSON text, as it arrived on a unicast carrier of "
      "`receiver` or in the broadcast room of `topic`: a dict of its fields (sender recovered "
      "from sig), or EnvelopeError whose kind is the first rule that failed. Rules 6-8 (replay, "
      "device, allowlist and budget) are the receiving node's.");
  m.def(
      "message_envelope",
      [](const PrivateKey& key, const std::string& recipient, std::string body,
         std::optional<std::int64_t> now) {
        return Envelope::message(key, to_address(recipient), std::move(body),
                                 now.value_or(now_ms()))
            .to_json()
            .dump();
      },
      py::arg("key"), py::arg("recipient"), py::arg("body"), py::arg("now_ms") = py::none(),
      "A signed unicast message envelope (JSON text) with a fresh nonce.");
  m.def(
      "broadcast_envelope",
      [](const PrivateKey& key, std::string topic, std::string body,
         std::optional<std::int64_t> now) {
        if (!is_topic(topic)) raise(errors().node, "bad_topic", "not a topic: " + topic);
        return Envelope::broadcast(key, std::move(topic), std::move(body), now.value_or(now_ms()))
            .to_json()
            .dump();
      },
      py::arg("key"), py::arg("topic"), py::arg("body"), py::arg("now_ms") = py::none(),
      "A signed broadcast envelope (JSON text) for the room of `topic`.");
  m.def(
      "refuse_broadcast_event",
      [](const std::string& content, const std::string& topic,
         const std::string& sender) -> py::object {
        const json parsed = json::parse(content, nullptr, false);
        auto refused =
            refuse_broadcast_event(parsed.is_discarded() ? json() : parsed, topic, sender);
        if (!refused) return py::none();
        py::dict d;
        d["error"] = std::string(to_string(refused->error));
        d["index"] = refused->index;
        d["reason"] = refused->reason
                          ? py::object(py::str(std::string(to_string(*refused->reason))))
                          : py::none();
        d["message"] = refused->message();
        return d;
      },
      py::arg("content"), py::arg("topic"), py::arg("sender"),
      "PROTOCOL §6 as a homeserver rule (docs/protocol.md \"Rules in the homeserver\"): why the "
      "content (JSON text) of a network.raiden.envelopes event that the Matrix user `sender` "
      "sends into the broadcast room of `topic` must be refused, as a dict {error: not_a_batch | "
      "bad_envelope | not_the_sender | not_the_operator, index, reason, message}, or None when it "
      "passes. §4 rules "
      "1-4 on each envelope, and each envelope's sender is the address of `sender`.");
  m.def(
      "run_vectors",
      [](const std::filesystem::path& path) {
        const cli::VectorReport r = cli::run_vector_file(path);
        py::dict d;
        d["kind"] = r.kind;
        d["passed"] = r.passed;
        d["failed"] = r.failed;
        d["failures"] = r.failures;
        d["file_error"] = r.file_error ? py::object(py::str(*r.file_error)) : py::none();
        return d;
      },
      py::arg("path"),
      "Runs one conformance vector file (PROTOCOL §7): {kind, passed, failed, failures, "
      "file_error}.");
}

}  // namespace mrt::python
