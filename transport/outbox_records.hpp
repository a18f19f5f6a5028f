// transport/outbox_records.hpp (internal): the outbox as the store keeps it. send() signs an
// envelope per body and writes its record; a record becomes `settled` (delivered or failed) and
// is erased once the application has seen that; at start the unsettled ones go back to the
// workers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <mrt/envelope.hpp>
#include <mrt/node.hpp>
#include <mrt/store/changes.hpp>
#include <mrt/store/env.hpp>

#include "node_tables.hpp"
#include "outbox.hpp"

namespace mrt::transport {

// One signed envelope per body to `to`, its record written into `changes`; the entries the
// workers carry once `changes` are durable. too_large when a body has no canonical JSON form or
// its envelope exceeds limits.max_bytes (nothing is written then).
Result<std::vector<OutboxEntry>, NodeError> sign_into_outbox(
    const PrivateKey& key, const Address& to, std::vector<std::string> bodies, std::int64_t now_ms,
    const EnvelopeLimits& limits, const NodeTables& tables, store::Changes& changes);

// The messages whose records are not settled yet.
std::vector<OutboxEntry> unsettled_outbox(const store::Env& env, const NodeTables& tables);

}  // namespace mrt::transport
