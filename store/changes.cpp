#include <algorithm>
#include <string>

#include <mrt/store/changes.hpp>

namespace mrt::store {

namespace {

std::string index_key(const TableBase& table, const Bytes& key) {
  std::string k = table.name();
  k += '\0';
  k.append(key.begin(), key.end());
  return k;
}

void add_hook(std::vector<Changes::Hook>& hooks, const void* owner, std::function<void()> hook) {
  const bool known = std::any_of(hooks.begin(), hooks.end(),
                                 [&](const Changes::Hook& h) { return h.first == owner; });
  if (!known) hooks.emplace_back(owner, std::move(hook));
}

}  // namespace

Changes::Changes(Changes&& other) noexcept
    : ops_(std::move(other.ops_)), last_(std::move(other.last_)), hooks_(other.take_hooks()) {
  other.ops_.clear();
  other.last_.clear();
}

Changes& Changes::operator=(Changes&& other) noexcept {
  if (this != &other) {
    run_abandon_hooks();
    ops_ = std::move(other.ops_);
    last_ = std::move(other.last_);
    hooks_ = other.take_hooks();
    other.ops_.clear();
    other.last_.clear();
  }
  return *this;
}

Changes::~Changes() {
  run_abandon_hooks();
}

void Changes::run_abandon_hooks() noexcept {
  auto hooks = take_hooks();
  for (auto& [owner, hook] : hooks.abandoned) {
    try {
      hook();
    } catch (...) {
      // Best effort: a reload that fails leaves the owner to fail on its next step.
    }
  }
}

void Changes::push(Op op) {
  last_[index_key(op.table, op.key)] = ops_.size();
  ops_.push_back(std::move(op));
}

const Changes::Op* Changes::last_write(const TableBase& table, const Bytes& key) const {
  const auto it = last_.find(index_key(table, key));
  return it == last_.end() ? nullptr : &ops_[it->second];
}

void Changes::after_commit(const void* owner, std::function<void()> hook) {
  add_hook(hooks_.committed, owner, std::move(hook));
}

void Changes::on_abandon(const void* owner, std::function<void()> hook) {
  add_hook(hooks_.abandoned, owner, std::move(hook));
}

Changes::Hooks Changes::take_hooks() {
  Hooks out;
  std::swap(out, hooks_);
  return out;
}

void Changes::append(Changes&& other) {
  for (auto& op : other.ops_) push(std::move(op));
  other.ops_.clear();
  other.last_.clear();
  auto hooks = other.take_hooks();
  for (auto& [owner, hook] : hooks.committed) after_commit(owner, std::move(hook));
  for (auto& [owner, hook] : hooks.abandoned) on_abandon(owner, std::move(hook));
}

void Changes::apply(WriteTxn& txn) const {
  for (const Op& op : ops_) {
    if (op.value) {
      op.table.put_bytes(txn, op.key, op.value->view());
    } else {
      op.table.erase_bytes(txn, op.key);
    }
  }
}

}  // namespace mrt::store
