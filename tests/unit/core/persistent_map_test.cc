#include "core/persistent_map.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace kura::core {
namespace {

using Map = PersistentMap<std::string, int>;
using Model = std::map<std::string, int>;

std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%05d", i);
  return buf;
}

Model Contents(const Map& map) {
  Model out;
  for (const auto& [k, v] : map) EXPECT_TRUE(out.emplace(k, v).second) << "key twice: " << k;
  return out;
}

// Every (key, before, after) of the model's difference, in key order.
struct Change {
  std::string key;
  std::optional<int> before;
  std::optional<int> after;
  friend bool operator==(const Change&, const Change&) = default;
  friend void PrintTo(const Change& c, std::ostream* os) {
    *os << c.key << ": " << (c.before ? std::to_string(*c.before) : "-") << " -> "
        << (c.after ? std::to_string(*c.after) : "-");
  }
};

std::vector<Change> ModelDiff(const Model& a, const Model& b) {
  std::vector<Change> out;
  std::map<std::string, Change> all;
  for (const auto& [k, v] : a) all[k] = {k, v, std::nullopt};
  for (const auto& [k, v] : b) {
    auto& c = all[k];
    c.key = k;
    c.after = v;
  }
  for (auto& [k, c] : all) {
    if (c.before != c.after) out.push_back(c);
  }
  return out;
}

// Diff's report, without the keys whose value was set again to what it was (Diff tells values
// by identity: such a key is reported, the model sees no change).
std::vector<Change> MapDiff(const Map& a, const Map& b) {
  std::vector<Change> out;
  Map::Diff(a, b, [&](const std::string& k, const int* before, const int* after) {
    Change c{k, std::nullopt, std::nullopt};
    if (before) c.before = *before;
    if (after) c.after = *after;
    if (c.before != c.after) out.push_back(c);
  });
  return out;
}

struct CountingLess {
  static inline int calls = 0;
  bool operator()(int a, int b) const {
    ++calls;
    return a < b;
  }
};

TEST(PersistentMapTest, EmptyMapHasNothing) {
  Map map;
  EXPECT_EQ(map.size(), 0u);
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.Find("a"), nullptr);
  EXPECT_EQ(map.begin(), map.end());
  EXPECT_EQ(map.lower_bound("a"), map.end());
  EXPECT_FALSE(map.Erase("a"));
  EXPECT_EQ(map.Mutable("a"), nullptr);
}

TEST(PersistentMapTest, SetFindEraseInOrder) {
  Map map;
  EXPECT_TRUE(map.Set("b", 2));
  EXPECT_TRUE(map.Set("a", 1));
  EXPECT_TRUE(map.Set("c", 3));
  EXPECT_FALSE(map.Set("b", 20));
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(*map.Find("b"), 20);
  EXPECT_EQ(Contents(map), (Model{{"a", 1}, {"b", 20}, {"c", 3}}));
  EXPECT_TRUE(map.Erase("a"));
  EXPECT_EQ(Contents(map), (Model{{"b", 20}, {"c", 3}}));
  EXPECT_EQ(map.lower_bound("a").key(), "b");
  EXPECT_EQ(map.lower_bound("bb").key(), "c");
  EXPECT_EQ(map.lower_bound("d"), map.end());
}

TEST(PersistentMapTest, ACopyDoesNotSeeChangesOfTheOriginal) {
  Map map;
  for (int i = 0; i < 1000; ++i) map.Set(Key(i), i);
  Map copy = map;
  *map.Mutable(Key(10)) = -10;
  map.Erase(Key(20));
  map.Set(Key(5000), 5000);
  EXPECT_EQ(*copy.Find(Key(10)), 10);
  EXPECT_NE(copy.Find(Key(20)), nullptr);
  EXPECT_EQ(copy.Find(Key(5000)), nullptr);
  EXPECT_EQ(copy.size(), 1000u);
  EXPECT_EQ(*map.Find(Key(10)), -10);
  EXPECT_EQ(map.size(), 1000u);
  EXPECT_EQ(MapDiff(copy, map),
            (std::vector<Change>{
                {Key(10), 10, -10}, {Key(20), 20, std::nullopt}, {Key(5000), std::nullopt, 5000}}));
}

TEST(PersistentMapTest, DiffOfAMapWithItselfIsEmpty) {
  Map map;
  for (int i = 0; i < 100; ++i) map.Set(Key(i), i);
  Map copy = map;
  EXPECT_TRUE(MapDiff(map, copy).empty());
}

TEST(PersistentMapTest, DiffSkipsSharedSubtrees) {
  Map map;
  for (int i = 0; i < 100000; ++i) map.Set(Key(i), i);
  Map copy = map;
  *copy.Mutable(Key(777)) = 0;
  int visited = 0;
  Map::Diff(map, copy, [&](const std::string&, const int*, const int*) { ++visited; });
  EXPECT_EQ(visited, 1);

  // Key comparisons count the work: a walk of both trees would make 100,000 of them.
  using Counted = PersistentMap<int, int, CountingLess>;
  Counted big;
  for (int i = 0; i < 100000; ++i) big.Set(i, i);
  Counted changed = big;
  *changed.Mutable(777) = 0;
  changed.Erase(50000);
  changed.Set(-1, 0);
  CountingLess::calls = 0;
  visited = 0;
  Counted::Diff(big, changed, [&](int, const int*, const int*) { ++visited; });
  EXPECT_EQ(visited, 3);
  EXPECT_LT(CountingLess::calls, 300);
}

TEST(PersistentMapTest, FromSortedBuildsTheSameMap) {
  std::vector<std::pair<std::string, int>> sorted;
  Model model;
  for (int i = 0; i < 777; ++i) {
    sorted.emplace_back(Key(i), i);
    model[Key(i)] = i;
  }
  Map map = Map::FromSorted(sorted);
  EXPECT_EQ(map.size(), 777u);
  EXPECT_EQ(Contents(map), model);
  map.Erase(Key(3));
  model.erase(Key(3));
  map.Set(Key(1000), 1);
  model[Key(1000)] = 1;
  EXPECT_EQ(Contents(map), model);
}

// Random operations on a map and on std::map side by side, with snapshots kept along the way:
// each snapshot must still hold what the model held when it was taken, and Diff between any two
// must be the model's difference.
TEST(PersistentMapTest, MatchesStdMapUnderRandomOperations) {
  std::mt19937 rng(12345);
  Map map;
  Model model;
  std::vector<std::pair<Map, Model>> snapshots;
  for (int step = 0; step < 20000; ++step) {
    const int key = static_cast<int>(rng() % 2000);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const int value = static_cast<int>(rng() % 100);
        EXPECT_EQ(map.Set(Key(key), value), !model.contains(Key(key)));
        model[Key(key)] = value;
        break;
      }
      case 2:
        EXPECT_EQ(map.Erase(Key(key)), model.erase(Key(key)) == 1);
        break;
      case 3:
        if (int* v = map.Mutable(Key(key))) {
          ASSERT_TRUE(model.contains(Key(key)));
          *v += 1;
          model[Key(key)] += 1;
        } else {
          EXPECT_FALSE(model.contains(Key(key)));
        }
        break;
    }
    ASSERT_EQ(map.size(), model.size());
    if (step % 1000 == 0) {
      snapshots.emplace_back(map, model);
      const int probe = static_cast<int>(rng() % 2100);
      auto it = map.lower_bound(Key(probe));
      auto want = model.lower_bound(Key(probe));
      if (want == model.end()) {
        EXPECT_EQ(it, map.end());
      } else {
        ASSERT_NE(it, map.end());
        EXPECT_EQ(it.key(), want->first);
        // Iterating on from lower_bound walks the rest in order.
        size_t rest = 0;
        for (; it != map.end(); ++it) ++rest;
        EXPECT_EQ(rest, static_cast<size_t>(std::distance(want, model.end())));
      }
    }
  }
  EXPECT_EQ(Contents(map), model);
  for (const auto& [snap, snap_model] : snapshots) EXPECT_EQ(Contents(snap), snap_model);
  for (size_t i = 0; i + 1 < snapshots.size(); i += 3) {
    EXPECT_EQ(MapDiff(snapshots[i].first, snapshots[i + 1].first),
              ModelDiff(snapshots[i].second, snapshots[i + 1].second));
    EXPECT_EQ(MapDiff(snapshots[i + 1].first, map), ModelDiff(snapshots[i + 1].second, model));
  }
}

TEST(PersistentMapTest, StaysBalancedUnderSortedInsertsAndErases) {
  // A change copies one node per level: an unbalanced tree would make each change O(n). Sorted
  // inserts are the worst case for an unbalanced tree. An AVL tree of n nodes is at most
  // 1.44 log2(n + 2) high: 23 for 65,536.
  Map map;
  for (int i = 0; i < 65536; ++i) map.Set(Key(i), i);
  EXPECT_LE(map.height(), 23);
  for (int i = 0; i < 65536; i += 2) map.Erase(Key(i));
  EXPECT_LE(map.height(), 22);
  EXPECT_EQ(map.size(), 32768u);
}

}  // namespace
}  // namespace kura::core
