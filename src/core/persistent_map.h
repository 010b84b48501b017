// An ordered map whose copies share structure: copying one is O(1), and a change to a copy costs
// O(log n) new nodes, leaving every other copy as it was. It is what lets the World (and its
// snapshots, one per change) hold 100,000 instances and still change one in microseconds.
//
// An AVL tree with path copying. Nodes are immutable once two maps share them; a node or value
// held by this map alone is changed in place (so building a map by many inserts allocates each
// node once). Values live behind their own shared pointer, so rebalancing never copies one and
// Diff tells a changed value from one that only moved in the tree.
//
// Thread safety: as a std::map's. Const methods of one map may run on many threads at once;
// changing a map needs it alone. Two maps sharing nodes are two objects: one thread may change
// its copy while others read theirs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace kura::core {

template <typename K, typename V, typename Compare = std::less<>>
class PersistentMap {
  struct Node;
  using NodePtr = std::shared_ptr<Node>;

 public:
  using key_type = K;
  using mapped_type = V;

  PersistentMap() = default;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The tree's height: at most 1.44 log2(size + 2).
  int height() const { return Height(root_); }

  // The value of `key`, or nullptr. Valid until this map changes or is destroyed.
  template <typename Q>
  const V* Find(const Q& key) const {
    const Node* n = root_.get();
    while (n != nullptr) {
      if (less_(key, n->key)) {
        n = n->left.get();
      } else if (less_(n->key, key)) {
        n = n->right.get();
      } else {
        return n->value.get();
      }
    }
    return nullptr;
  }
  template <typename Q>
  bool contains(const Q& key) const {
    return Find(key) != nullptr;
  }

  // Sets the value of `key`, inserting it if absent. Returns whether it was inserted.
  bool Set(K key, V value) {
    bool inserted = false;
    root_ = Insert(std::move(root_), key, std::make_shared<const V>(std::move(value)), inserted);
    if (inserted) ++size_;
    return inserted;
  }

  // The value of `key`, to change in place, or nullptr if absent. The value and the nodes above
  // it are copied first unless this map alone holds them, so no other map sees the change.
  // Valid until this map changes again.
  template <typename Q>
  V* Mutable(const Q& key) {
    if (Find(key) == nullptr) return nullptr;
    V* out = nullptr;
    root_ = Unshare(std::move(root_), key, out);
    return out;
  }

  // Removes `key`. Returns whether it was there.
  template <typename Q>
  bool Erase(const Q& key) {
    if (Find(key) == nullptr) return false;
    root_ = Remove(std::move(root_), key);
    --size_;
    return true;
  }

  // In key order. An iterator holds the path to its node: O(log n) memory, valid while the map
  // it came from is neither changed nor destroyed.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::pair<const K&, const V&>;
    using reference = value_type;
    using pointer = void;
    using difference_type = std::ptrdiff_t;

    const_iterator() = default;
    reference operator*() const { return {path_.back()->key, *path_.back()->value}; }
    struct Arrow {
      value_type pair;
      const value_type* operator->() const { return &pair; }
    };
    Arrow operator->() const { return {**this}; }
    const K& key() const { return path_.back()->key; }
    const V& value() const { return *path_.back()->value; }
    const_iterator& operator++() {
      const Node* n = path_.back();
      if (n->right) {
        PushLeftmost(n->right.get());
        return *this;
      }
      // Up past every ancestor whose right subtree we were in; the next is the one whose left
      // subtree we were in.
      path_.pop_back();
      while (!path_.empty() && path_.back()->right.get() == n) {
        n = path_.back();
        path_.pop_back();
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      if (a.path_.empty() || b.path_.empty()) return a.path_.empty() == b.path_.empty();
      return a.path_.back() == b.path_.back();
    }

   private:
    friend class PersistentMap;
    void PushLeftmost(const Node* n) {
      for (; n != nullptr; n = n->left.get()) path_.push_back(n);
    }
    std::vector<const Node*> path_;  // from the root to the node; empty at the end
  };

  const_iterator begin() const {
    const_iterator it;
    it.PushLeftmost(root_.get());
    return it;
  }
  const_iterator end() const { return {}; }

  // The first entry whose key is not less than `key`.
  template <typename Q>
  const_iterator lower_bound(const Q& key) const {
    const_iterator it;
    size_t keep = 0;  // path_ length up to the last node >= key
    for (const Node* n = root_.get(); n != nullptr;) {
      it.path_.push_back(n);
      if (less_(n->key, key)) {
        n = n->right.get();
      } else {
        keep = it.path_.size();
        n = n->left.get();
      }
    }
    it.path_.resize(keep);
    return it;
  }

  // Calls `visit(key, before, after)` for every key whose value differs between `before` and
  // `after`, in key order: before is nullptr for a key only `after` has, after is nullptr for a
  // key only `before` has. Values are told apart by identity, not by ==: a value set again (or
  // reached through Mutable) counts as changed. Subtrees the two maps share are skipped whole,
  // so comparing a map with a copy changed k times costs O(k log n).
  template <typename Visit>
  static void Diff(const PersistentMap& before, const PersistentMap& after, Visit&& visit) {
    Cursor a(before.root_.get()), b(after.root_.get());
    Compare less;
    while (!a.done() || !b.done()) {
      if (a.done()) {
        b.ExpandToNode();
        visit(b.node()->key, static_cast<const V*>(nullptr), b.node()->value.get());
        b.Pop();
        continue;
      }
      if (b.done()) {
        a.ExpandToNode();
        visit(a.node()->key, a.node()->value.get(), static_cast<const V*>(nullptr));
        a.Pop();
        continue;
      }
      if (a.top().subtree && b.top().subtree && a.top().node == b.top().node) {
        a.Pop();
        b.Pop();
        continue;
      }
      // Open the taller subtree first: the trees then meet at shared subtrees again.
      if (a.top().subtree && (!b.top().subtree || a.top().node->height >= b.top().node->height)) {
        a.Expand();
        continue;
      }
      if (b.top().subtree) {
        b.Expand();
        continue;
      }
      const Node* x = a.top().node;
      const Node* y = b.top().node;
      if (less(x->key, y->key)) {
        visit(x->key, x->value.get(), static_cast<const V*>(nullptr));
        a.Pop();
      } else if (less(y->key, x->key)) {
        visit(y->key, static_cast<const V*>(nullptr), y->value.get());
        b.Pop();
      } else {
        if (x->value != y->value) visit(x->key, x->value.get(), y->value.get());
        a.Pop();
        b.Pop();
      }
    }
  }

  // Builds a map from entries sorted by key with no key twice, in O(n): how a large table is
  // loaded at start-up.
  static PersistentMap FromSorted(std::vector<std::pair<K, V>> sorted) {
    PersistentMap map;
    map.size_ = sorted.size();
    map.root_ = Build(sorted, 0, sorted.size());
    return map;
  }

 private:
  struct Node {
    K key;
    std::shared_ptr<const V> value;
    NodePtr left;
    NodePtr right;
    int height = 1;
  };

  // One step of an in-order walk: a whole subtree still to walk, or a node whose left subtree
  // was walked and whose own entry comes next.
  struct Item {
    const Node* node;
    bool subtree;
  };
  class Cursor {
   public:
    explicit Cursor(const Node* root) {
      if (root != nullptr) stack_.push_back({root, true});
    }
    bool done() const { return stack_.empty(); }
    const Item& top() const { return stack_.back(); }
    const Node* node() const { return stack_.back().node; }
    void Pop() { stack_.pop_back(); }
    // Replaces the subtree on top by its right subtree, its node, and its left subtree.
    void Expand() {
      const Node* n = stack_.back().node;
      stack_.pop_back();
      if (n->right) stack_.push_back({n->right.get(), true});
      stack_.push_back({n, false});
      if (n->left) stack_.push_back({n->left.get(), true});
    }
    void ExpandToNode() {
      while (stack_.back().subtree) Expand();
    }

   private:
    std::vector<Item> stack_;
  };

  static int Height(const NodePtr& n) { return n ? n->height : 0; }

  // `n` itself if this map alone holds it, else a copy (sharing children and value).
  static NodePtr Own(NodePtr n) {
    if (n.use_count() == 1) {
      // The last other holder released it with a release decrement: see its writes first.
      std::atomic_thread_fence(std::memory_order_acquire);
      return n;
    }
    return std::make_shared<Node>(*n);
  }

  static NodePtr Fix(NodePtr n) {
    n->height = 1 + std::max(Height(n->left), Height(n->right));
    return n;
  }
  static NodePtr RotateRight(NodePtr n) {
    NodePtr l = Own(std::move(n->left));
    n->left = std::move(l->right);
    l->right = Fix(std::move(n));
    return Fix(std::move(l));
  }
  static NodePtr RotateLeft(NodePtr n) {
    NodePtr r = Own(std::move(n->right));
    n->right = std::move(r->left);
    r->left = Fix(std::move(n));
    return Fix(std::move(r));
  }
  // `n` is owned and its children are balanced, differing in height by at most 2.
  static NodePtr Balance(NodePtr n) {
    const int lean = Height(n->left) - Height(n->right);
    if (lean > 1) {
      if (Height(n->left->left) < Height(n->left->right))
        n->left = RotateLeft(Own(std::move(n->left)));
      return RotateRight(std::move(n));
    }
    if (lean < -1) {
      if (Height(n->right->right) < Height(n->right->left)) {
        n->right = RotateRight(Own(std::move(n->right)));
      }
      return RotateLeft(std::move(n));
    }
    return Fix(std::move(n));
  }

  NodePtr Insert(NodePtr n, K& key, std::shared_ptr<const V> value, bool& inserted) {
    if (!n) {
      inserted = true;
      auto leaf = std::make_shared<Node>();
      leaf->key = std::move(key);
      leaf->value = std::move(value);
      return leaf;
    }
    n = Own(std::move(n));
    if (less_(key, n->key)) {
      n->left = Insert(std::move(n->left), key, std::move(value), inserted);
    } else if (less_(n->key, key)) {
      n->right = Insert(std::move(n->right), key, std::move(value), inserted);
    } else {
      n->value = std::move(value);
      return n;
    }
    return Balance(std::move(n));
  }

  template <typename Q>
  NodePtr Unshare(NodePtr n, const Q& key, V*& out) {
    n = Own(std::move(n));
    if (less_(key, n->key)) {
      n->left = Unshare(std::move(n->left), key, out);
    } else if (less_(n->key, key)) {
      n->right = Unshare(std::move(n->right), key, out);
    } else {
      // A fresh value each time, even when this map alone holds it: Diff tells changes by
      // identity.
      auto copy = std::make_shared<V>(*n->value);
      out = copy.get();
      n->value = std::move(copy);
    }
    return n;
  }

  // Removes the smallest node of the (owned) subtree `n` into `min`.
  static NodePtr RemoveMin(NodePtr n, NodePtr& min) {
    if (!n->left) {
      NodePtr right = std::move(n->right);
      min = std::move(n);
      return right;
    }
    n->left = RemoveMin(Own(std::move(n->left)), min);
    return Balance(std::move(n));
  }

  template <typename Q>
  NodePtr Remove(NodePtr n, const Q& key) {
    n = Own(std::move(n));
    if (less_(key, n->key)) {
      n->left = Remove(std::move(n->left), key);
      return Balance(std::move(n));
    }
    if (less_(n->key, key)) {
      n->right = Remove(std::move(n->right), key);
      return Balance(std::move(n));
    }
    if (!n->left) return std::move(n->right);
    if (!n->right) return std::move(n->left);
    NodePtr successor;
    NodePtr right = RemoveMin(Own(std::move(n->right)), successor);
    successor->left = std::move(n->left);
    successor->right = std::move(right);
    return Balance(std::move(successor));
  }

  static NodePtr Build(std::vector<std::pair<K, V>>& sorted, size_t first, size_t last) {
    if (first == last) return nullptr;
    const size_t mid = first + (last - first) / 2;
    auto n = std::make_shared<Node>();
    n->left = Build(sorted, first, mid);
    n->key = std::move(sorted[mid].first);
    n->value = std::make_shared<const V>(std::move(sorted[mid].second));
    n->right = Build(sorted, mid + 1, last);
    return Fix(std::move(n));
  }

  NodePtr root_;
  size_t size_ = 0;
  [[no_unique_address]] Compare less_;
};

}  // namespace kura::core
