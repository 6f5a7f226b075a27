/*!
 * \file graph_extractor.cc
 * \brief The reflection-driven walk that turns a TensorIR function into a program graph.
 *
 * Semantics (mirrored by the pure-Python reference walker in tests/python/reference_walker.py):
 * - Nodes are objects, memoised on their address (the IR is a DAG), numbered in pre-order of
 *   an explicit-stack depth-first walk that visits fields in reflection order (ancestors' fields
 *   first), array elements in order and map entries in iteration order (key, then value).
 * - Not nodes: None, POD scalars, strings, the `span` field, empty containers. Scalars become
 *   features of the object holding them (see node_features.h).
 * - ir.Op is a leaf: its reflected fields describe the operator registry, not the program.
 * - Every reference (also to an already seen object) adds a parent-to-child and a
 *   child-to-parent edge. Containers are nodes and sit between an object and its elements.
 * - A def-use edge goes from each binding node (For.loop_var, IterVar.var, Bind.var, Let.var,
 *   allocated / declared / matched buffers, PrimFunc params) to each non-container node that
 *   references the bound variable outside a binding field; duplicates are dropped.
 * - Edges are emitted AST first in walk order, then def-use sorted by (source, destination),
 *   and stably grouped by source into CSR.
 * - A node's loop-context features describe the For nodes (and the unroll annotations) on the
 *   path by which the walk first reached it; a node passes its context, plus itself when it is
 *   a For or carries an unroll annotation, to everything it references.
 * - A load or store gets its access columns (access_pattern.h) from the For nodes on that same
 *   path and the block-variable bindings of the SBlockRealize nodes visited before it.
 */
#include <tpgnn/access_pattern.h>
#include <tpgnn/address_memo.h>
#include <tpgnn/graph_extractor.h>
#include <tpgnn/node_features.h>
#include <tpgnn/node_type_vocabulary.h>
#include <tpgnn/type_registry.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/map.h>
#include <tvm/ffi/container/shape.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/reflection/accessor.h>
#include <tvm/ffi/string.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace tpgnn {
namespace ffi = tvm::ffi;

namespace {

/*! \brief What a reflected field means to the graph, decided once per (type, field). */
enum class FieldRole : uint8_t {
  kSkip,         // not part of the program (span)
  kChild,        // objects become children, scalars generic features
  kBinder,       // binds the variables it holds (directly or in an array)
  kAnnotations,  // a Map<String, Any> of annotations: known keys become features
  kForKind,      // tirx.For.kind
  kForExtent,    // tirx.For.extent
  kIterType,     // tirx.IterVar.iter_type
  kConstValue,   // ir.IntImm.value / ir.FloatImm.value
  kScope,        // tirx.BufferType.storage_scope
};

enum class NodeKind : uint8_t { kObject, kArray, kMap, kShape, kLeaf };

struct FieldEntry {
  TVMFFIFieldGetter getter;
  int64_t offset;
  FieldRole role;
  bool raw_object;  // the field is a plain ObjectRef: read the pointer, skip the getter
};

struct TypeEntry {
  bool ready = false;
  int32_t node_type = kUnknownNodeType;
  NodeKind kind = NodeKind::kObject;
  bool is_var = false;
  bool is_const = false;
  bool is_for = false;
  bool is_access = false;         // a load or store: gets the access columns
  bool is_block_realize = false;  // binds block variables used by the accesses below
  std::vector<FieldEntry> fields;
};

struct FieldRule {
  std::string_view type_key;
  std::string_view field;
  FieldRole role;
};

constexpr FieldRule kFieldRules[] = {
    {"tirx.For", "kind", FieldRole::kForKind},
    {"tirx.For", "extent", FieldRole::kForExtent},
    {"tirx.For", "loop_var", FieldRole::kBinder},
    {"tirx.For", "annotations", FieldRole::kAnnotations},
    {"tirx.IterVar", "iter_type", FieldRole::kIterType},
    {"tirx.IterVar", "var", FieldRole::kBinder},
    {"tirx.Bind", "var", FieldRole::kBinder},
    {"prim.Let", "var", FieldRole::kBinder},
    {"tirx.AllocBuffer", "buffer", FieldRole::kBinder},
    {"tirx.AllocBuffer", "annotations", FieldRole::kAnnotations},
    {"tirx.DeclBuffer", "buffer", FieldRole::kBinder},
    {"s_tir.SBlock", "alloc_buffers", FieldRole::kBinder},
    {"s_tir.SBlock", "annotations", FieldRole::kAnnotations},
    {"s_tir.MatchBufferRegion", "buffer", FieldRole::kBinder},
    {"tirx.PrimFunc", "params", FieldRole::kBinder},
    {"ir.IntImm", "value", FieldRole::kConstValue},
    {"ir.FloatImm", "value", FieldRole::kConstValue},
    {"tirx.BufferType", "storage_scope", FieldRole::kScope},
};

/*! \brief Annotation keys that become features, and the column each one feeds. */
struct AnnotationRule {
  std::string_view key;
  NodeFeature column;
  bool as_flag;  // write 1 instead of SignedLog(value)
};

constexpr AnnotationRule kAnnotationRules[] = {
    {"pragma_auto_unroll_max_step", kUnrollMaxStep, false},
    {"meta_schedule.unroll_explicit", kUnrollMaxStep, false},
    {"meta_schedule.unroll_explicit", kUnrollExplicit, true},
    {"meta_schedule.unroll_implicit", kUnrollMaxStep, false},
    {"pragma_unroll_explicit", kUnrollExplicit, false},
    {"meta_schedule.vectorize", kVectorizeAnnotation, false},
    {"meta_schedule.parallel", kParallelAnnotation, false},
};

/*! \brief A pending visit of `obj`, reached from `parent`. */
struct Frame {
  const TVMFFIObject* obj;
  int32_t parent;  // node id, -1 for the root
  int32_t owner;   // nearest non-container node on the path, -1 for the root
  int32_t binder;  // node binding the variables reached through this field, or -1
};

/*! \brief The loop-context columns of a node, accumulated along the walk's path. */
struct LoopContext {
  float loops = 0.0f;
  float extent = 0.0f;
  float parallel_extent = 0.0f;
  float vectorized_extent = 0.0f;
  float unrolled_extent = 0.0f;
  float unroll_max_step = 0.0f;
  int32_t innermost_loop = -1;  // index of the innermost enclosing For in the walk's loop list

  void WriteTo(float* row) const {
    row[kEnclosingLoops] = loops;
    row[kEnclosingExtent] = extent;
    row[kEnclosingParallelExtent] = parallel_extent;
    row[kEnclosingVectorizedExtent] = vectorized_extent;
    row[kEnclosingUnrolledExtent] = unrolled_extent;
    row[kEnclosingUnrollMaxStep] = unroll_max_step;
  }

  /*!
   * \brief The context a node whose features are `row` passes to what it references;
   *  `loop` is the node's index in the loop list when it is a For.
   */
  LoopContext Inner(const float* row, bool is_for, int32_t loop) const {
    LoopContext inner = *this;
    if (is_for) {
      inner.innermost_loop = loop;
      const float extent_feature = row[kLoopExtent];
      inner.loops += 1.0f;
      inner.extent += extent_feature;
      if (row[kForParallel] != 0.0f || row[kForThreadBinding] != 0.0f) {
        inner.parallel_extent += extent_feature;
      }
      if (row[kForVectorized] != 0.0f) inner.vectorized_extent += extent_feature;
      if (row[kForUnrolled] != 0.0f) inner.unrolled_extent += extent_feature;
    }
    inner.unroll_max_step = std::max(inner.unroll_max_step, row[kUnrollMaxStep]);
    return inner;
  }
};

/*! \brief A For on the walk's paths, linked to the For around it. */
struct LoopLink {
  EnclosingLoop loop;
  int32_t outer;  // index of the enclosing For's link, or -1
};

}  // namespace

class GraphExtractor::Impl {
 public:
  Impl()
      : array_index_(kTVMFFIArray),
        map_index_(kTVMFFIMap),
        shape_index_(kTVMFFIShape),
        var_index_(TypeIndexOf("ir.Var")),
        int_imm_index_(TypeIndexOf("ir.IntImm")),
        float_imm_index_(TypeIndexOf("ir.FloatImm")),
        op_index_(TypeIndexOf("ir.Op")),
        for_index_(TypeIndexOf("tirx.For")) {}

  ProgramGraph Extract(const TVMFFIObject* root) {
    ProgramGraph g;
    g.node_type.reserve(last_num_nodes_);
    g.node_features.reserve(last_num_nodes_ * kNumNodeFeatures);
    memo_.Reset(last_num_nodes_ + 16);
    src_.clear();
    dst_.clear();
    kind_.clear();
    binder_of_.clear();
    inner_context_.clear();
    loops_.clear();
    access_.Reset();
    uses_.clear();
    stack_.clear();

    stack_.push_back(Frame{root, -1, -1, -1});
    while (!stack_.empty()) {
      Frame f = stack_.back();
      stack_.pop_back();
      auto [id, fresh] = memo_.FindOrInsert(f.obj, static_cast<int32_t>(g.node_type.size()));
      const TypeEntry& entry = Entry(f.obj->type_index);
      if (fresh) {
        g.node_type.push_back(entry.node_type);
        g.node_features.resize(g.node_features.size() + kNumNodeFeatures, 0.0f);
        binder_of_.push_back(-1);
      }
      if (f.parent >= 0) {
        AddEdge(f.parent, id, kParentToChild);
        AddEdge(id, f.parent, kChildToParent);
      }
      if (entry.is_var) {
        if (f.binder >= 0) {
          if (binder_of_[id] < 0) binder_of_[id] = f.binder;
        } else if (f.owner >= 0) {
          uses_.emplace_back(id, f.owner);
        }
      }
      if (fresh) {
        float* row = g.node_features.data() + static_cast<size_t>(id) * kNumNodeFeatures;
        const LoopContext context = f.parent >= 0 ? inner_context_[f.parent] : LoopContext{};
        context.WriteTo(row);
        loop_var_ = nullptr;
        loop_extent_ = 0;
        Expand(f, id, entry, &g);
        // Expand only queues the children, so what they read below is in place in time.
        if (entry.is_block_realize) access_.BindBlockVars(f.obj);
        if (entry.is_access) {
          access_.WriteFeatures(f.obj, EnclosingLoops(context.innermost_loop), row);
        }
        int32_t loop = -1;
        if (entry.is_for && loop_var_ != nullptr) {
          const float log_extent = row[kLoopExtent];
          loops_.push_back(
              LoopLink{{loop_var_, log_extent, loop_extent_, log_extent == SignedLog(1.0)},
                       context.innermost_loop});
          loop = static_cast<int32_t>(loops_.size()) - 1;
        }
        inner_context_.push_back(context.Inner(row, entry.is_for, loop));
      }
    }
    AddDefUseEdges();
    BuildCsr(static_cast<int64_t>(g.node_type.size()), &g);
    last_num_nodes_ = g.node_type.size();
    return g;
  }

 private:
  const TypeEntry& Entry(int32_t type_index) {
    if (static_cast<size_t>(type_index) >= types_.size()) types_.resize(type_index + 1);
    TypeEntry& e = types_[type_index];
    if (!e.ready) Describe(type_index, &e);
    return e;
  }

  void Describe(int32_t type_index, TypeEntry* e) {
    const TVMFFITypeInfo* info = TVMFFIGetTypeInfo(type_index);
    std::string_view key = TypeKeyOf(type_index);
    e->node_type = NodeTypeId(key);
    e->is_var = DerivesFrom(info, var_index_);
    e->is_const = type_index == int_imm_index_ || type_index == float_imm_index_;
    e->is_for = DerivesFrom(info, for_index_);
    e->is_access = access_.IsAccess(type_index);
    e->is_block_realize = access_.IsBlockRealize(type_index);
    if (type_index == array_index_) {
      e->kind = NodeKind::kArray;
    } else if (type_index == map_index_) {
      e->kind = NodeKind::kMap;
    } else if (type_index == shape_index_) {
      e->kind = NodeKind::kShape;
    } else if (type_index == op_index_ || type_index < kTVMFFIDynObjectBegin) {
      // Ops and the remaining built-in objects (tensors, functions, modules...) are leaves.
      e->kind = NodeKind::kLeaf;
    } else {
      e->kind = NodeKind::kObject;
      ffi::reflection::ForEachFieldInfo(info, [&](const TVMFFIFieldInfo* field) {
        std::string_view name(field->name.data, field->name.size);
        FieldRole role = name == "span" ? FieldRole::kSkip : FieldRole::kChild;
        for (const FieldRule& rule : kFieldRules) {
          if (rule.field == name && DerivesFrom(info, TypeIndexOf(rule.type_key))) role = rule.role;
        }
        int32_t st = field->field_static_type_index;
        bool raw = st >= kTVMFFIStaticObjectBegin && st != kTVMFFIStr && st != kTVMFFIBytes &&
                   field->size == static_cast<int64_t>(sizeof(void*));
        e->fields.push_back(FieldEntry{field->getter, field->offset, role, raw});
      });
    }
    e->ready = true;
  }

  /*!
   * \brief Reads a field as a borrowed TVMFFIAny: objects stay alive through their owner, so
   *  the reference the getter took is released at once.
   */
  static TVMFFIAny ReadField(const TVMFFIObject* obj, const FieldEntry& field) {
    void* addr = reinterpret_cast<char*>(const_cast<TVMFFIObject*>(obj)) + field.offset;
    TVMFFIAny out;
    out.type_index = kTVMFFINone;
    out.zero_padding = 0;
    out.v_int64 = 0;
    if (field.raw_object) {
      TVMFFIObject* p = *reinterpret_cast<TVMFFIObject**>(addr);
      if (p != nullptr) {
        out.type_index = p->type_index;
        out.v_obj = p;
      }
      return out;
    }
    TVMFFIAny owned;
    owned.type_index = kTVMFFINone;
    owned.zero_padding = 0;
    owned.v_int64 = 0;
    TVM_FFI_CHECK_SAFE_CALL(field.getter(addr, &owned));
    out = owned;
    if (IsObject(owned) && !IsString(owned)) {
      ffi::details::AnyUnsafe::MoveTVMFFIAnyToAny(&owned);  // drop the extra reference
    } else if (IsString(owned) || IsObject(owned)) {
      // Strings may be freshly boxed by the getter: keep them only for this call.
      hold_.push_back(ffi::details::AnyUnsafe::MoveTVMFFIAnyToAny(&owned));
    }
    return out;
  }

  static bool IsEmptyContainer(const TVMFFIObject* obj) {
    if (obj->type_index == kTVMFFIArray) {
      return reinterpret_cast<const ffi::ArrayObj*>(obj)->size() == 0;
    }
    if (obj->type_index == kTVMFFIMap) {
      return reinterpret_cast<const ffi::MapObj*>(obj)->size() == 0;
    }
    return false;
  }

  /*! \brief Queues an object child unless it is a string or an empty container. */
  void Queue(const TVMFFIAny& v, int32_t parent, int32_t owner, int32_t binder) {
    if (!IsObject(v) || IsString(v)) return;
    const TVMFFIObject* obj = static_cast<const TVMFFIObject*>(v.v_obj);
    if (IsEmptyContainer(obj)) return;
    children_.push_back(Frame{obj, parent, owner, binder});
  }

  void Expand(const Frame& f, int32_t id, const TypeEntry& entry, ProgramGraph* g) {
    float* row = g->node_features.data() + static_cast<size_t>(id) * kNumNodeFeatures;
    children_.clear();
    switch (entry.kind) {
      case NodeKind::kLeaf:
        return;
      case NodeKind::kShape: {
        row[kNumElements] = SignedLog(reinterpret_cast<const ffi::ShapeObj*>(f.obj)->size);
        return;
      }
      case NodeKind::kArray: {
        const auto* arr = reinterpret_cast<const ffi::ArrayObj*>(f.obj);
        row[kNumElements] = SignedLog(static_cast<double>(arr->size()));
        for (const ffi::Any& item : *arr) {
          Queue(*ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(item), id, f.owner, f.binder);
        }
        break;
      }
      case NodeKind::kMap: {
        const auto* map = reinterpret_cast<const ffi::MapObj*>(f.obj);
        row[kNumElements] = SignedLog(static_cast<double>(map->size()));
        for (const auto& kv : *map) {
          Queue(*ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(kv.first), id, f.owner, -1);
          Queue(*ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(kv.second), id, f.owner, -1);
        }
        break;
      }
      case NodeKind::kObject: {
        hold_.clear();
        if (entry.is_const) row[kIsConst] = 1.0f;
        for (const FieldEntry& field : entry.fields) {
          if (field.role == FieldRole::kSkip) continue;
          TVMFFIAny v = ReadField(f.obj, field);
          if (IsObject(v) && !IsString(v)) {
            if (entry.is_for && field.role == FieldRole::kBinder) loop_var_ = v.v_obj;
            if (field.role == FieldRole::kForExtent) {
              ConstValue(v, &row[kLoopExtent]);
              loop_extent_ = IntConstant(v);
            }
            if (field.role == FieldRole::kAnnotations) AnnotationFeatures(v, row);
            Queue(v, id, id, field.role == FieldRole::kBinder ? id : -1);
          } else {
            ScalarFeature(field.role, v, row);
          }
        }
        break;
      }
    }
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) stack_.push_back(*it);
  }

  /*! \brief Writes SignedLog of an IntImm / FloatImm / int to `out`; leaves it otherwise. */
  void ConstValue(const TVMFFIAny& v, float* out) {
    if (v.type_index == kTVMFFIInt) {
      *out = SignedLog(static_cast<double>(v.v_int64));
    } else if (v.type_index == kTVMFFIBool) {
      *out = v.v_int64 != 0 ? 1.0f : 0.0f;
    } else if (v.type_index == int_imm_index_ || v.type_index == float_imm_index_) {
      const TypeEntry& e = Entry(v.type_index);
      const auto* obj = static_cast<const TVMFFIObject*>(v.v_obj);
      for (const FieldEntry& field : e.fields) {
        if (field.role != FieldRole::kConstValue) continue;
        TVMFFIAny value = ReadField(obj, field);
        if (value.type_index == kTVMFFIInt) *out = SignedLog(static_cast<double>(value.v_int64));
        if (value.type_index == kTVMFFIFloat) *out = SignedLog(value.v_float64);
      }
    }
  }

  /*! \brief The value of an ir.IntImm (or a plain int), 0 for anything else. */
  int64_t IntConstant(const TVMFFIAny& v) {
    if (v.type_index == kTVMFFIInt) return v.v_int64;
    if (v.type_index != int_imm_index_) return 0;
    const auto* obj = static_cast<const TVMFFIObject*>(v.v_obj);
    for (const FieldEntry& field : Entry(v.type_index).fields) {
      if (field.role != FieldRole::kConstValue) continue;
      TVMFFIAny value = ReadField(obj, field);
      if (value.type_index == kTVMFFIInt) return value.v_int64;
    }
    return 0;
  }

  void AnnotationFeatures(const TVMFFIAny& v, float* row) {
    if (v.type_index != kTVMFFIMap) return;
    const auto* map = reinterpret_cast<const ffi::MapObj*>(v.v_obj);
    for (const auto& kv : *map) {
      const TVMFFIAny* key = ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(kv.first);
      if (!IsString(*key)) continue;
      ffi::String key_str = ffi::AnyView::CopyFromTVMFFIAny(*key).cast<ffi::String>();
      std::string_view k(key_str.data(), key_str.size());
      for (const AnnotationRule& rule : kAnnotationRules) {
        if (rule.key != k) continue;
        float value = 0.0f;
        ConstValue(*ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(kv.second), &value);
        row[rule.column] = rule.as_flag ? 1.0f : value;
      }
    }
  }

  static void ScalarFeature(FieldRole role, const TVMFFIAny& v, float* row) {
    switch (v.type_index) {
      case kTVMFFIInt: {
        int64_t x = v.v_int64;
        if (role == FieldRole::kForKind) {
          row[x >= 0 && x <= 4 ? kForSerial + static_cast<int32_t>(x)
                               : static_cast<int32_t>(kForSerial)] = 1.0f;
        } else if (role == FieldRole::kIterType) {
          row[x == 0 ? kIterSpatial : x == 2 ? kIterReduce : kIterOther] = 1.0f;
        } else if (role == FieldRole::kConstValue) {
          row[kConstValue] = SignedLog(static_cast<double>(x));
        } else {
          // Accumulate in the linear domain would overflow the transform's purpose; sum logs.
          row[kOtherInt] += SignedLog(static_cast<double>(x));
        }
        break;
      }
      case kTVMFFIBool:
        if (role == FieldRole::kConstValue)
          row[kConstValue] = v.v_int64 != 0 ? 1.0f : 0.0f;
        else if (v.v_int64 != 0)
          row[kOtherBool] += 1.0f;
        break;
      case kTVMFFIFloat:
        if (role == FieldRole::kConstValue) row[kConstValue] = SignedLog(v.v_float64);
        break;
      case kTVMFFIDataType: {
        DLDataType t = v.v_dtype;
        row[kDtypeBits] = static_cast<float>(t.bits);
        row[kDtypeLanes] = SignedLog(static_cast<double>(t.lanes));
        if (t.code == kDLInt)
          row[kDtypeInt] = 1.0f;
        else if (t.code == kDLUInt || t.code == kDLBool)
          row[kDtypeUInt] = 1.0f;
        else if (t.code == kDLFloat || t.code == kDLBfloat)
          row[kDtypeFloat] = 1.0f;
        else
          row[kDtypeOther] = 1.0f;
        break;
      }
      case kTVMFFISmallStr:
      case kTVMFFIStr:
        if (role == FieldRole::kScope) {
          ffi::String s = ffi::AnyView::CopyFromTVMFFIAny(v).cast<ffi::String>();
          std::string_view scope(s.data(), s.size());
          if (scope.empty() || scope == "global")
            row[kScopeGlobal] = 1.0f;
          else if (scope.rfind("local", 0) == 0)
            row[kScopeLocal] = 1.0f;
          else if (scope.rfind("shared", 0) == 0)
            row[kScopeShared] = 1.0f;
        }
        break;
      default:
        break;
    }
  }

  /*! \brief The For nodes around a node whose innermost one is `innermost`, innermost first. */
  const std::vector<EnclosingLoop>& EnclosingLoops(int32_t innermost) {
    enclosing_.clear();
    for (int32_t i = innermost; i >= 0; i = loops_[i].outer) enclosing_.push_back(loops_[i].loop);
    return enclosing_;
  }

  void AddEdge(int32_t src, int32_t dst, EdgeType kind) {
    src_.push_back(src);
    dst_.push_back(dst);
    kind_.push_back(kind);
  }

  void AddDefUseEdges() {
    def_use_.clear();
    for (const auto& [var, owner] : uses_) {
      int32_t binder = binder_of_[var];
      if (binder >= 0 && binder != owner) def_use_.emplace_back(binder, owner);
    }
    std::sort(def_use_.begin(), def_use_.end());
    def_use_.erase(std::unique(def_use_.begin(), def_use_.end()), def_use_.end());
    for (const auto& [binder, owner] : def_use_) AddEdge(binder, owner, kDefUse);
  }

  void BuildCsr(int64_t num_nodes, ProgramGraph* g) {
    const size_t num_edges = src_.size();
    g->row_ptr.assign(num_nodes + 1, 0);
    for (int32_t s : src_) ++g->row_ptr[s + 1];
    for (int64_t i = 0; i < num_nodes; ++i) g->row_ptr[i + 1] += g->row_ptr[i];
    g->col.resize(num_edges);
    g->edge_type.resize(num_edges);
    cursor_.assign(g->row_ptr.begin(), g->row_ptr.end() - 1);
    for (size_t e = 0; e < num_edges; ++e) {
      int64_t slot = cursor_[src_[e]]++;
      g->col[slot] = dst_[e];
      g->edge_type[slot] = kind_[e];
    }
  }

  const int32_t array_index_, map_index_, shape_index_, var_index_, int_imm_index_,
      float_imm_index_, op_index_, for_index_;
  std::vector<TypeEntry> types_;
  AddressMemo memo_;
  std::vector<Frame> stack_, children_;
  std::vector<int32_t> src_, dst_, binder_of_;
  std::vector<LoopContext> inner_context_;  // per node: the context it passes to its children
  std::vector<LoopLink> loops_;             // every For met, in walk order
  std::vector<EnclosingLoop> enclosing_;
  const TVMFFIObject* loop_var_ = nullptr;  // the loop_var of the For being expanded
  int64_t loop_extent_ = 0;                 // its constant extent, 0 when not constant
  AccessAnalyzer access_;
  std::vector<EdgeType> kind_;
  std::vector<std::pair<int32_t, int32_t>> uses_, def_use_;
  std::vector<int64_t> cursor_;
  static thread_local std::vector<ffi::Any> hold_;
  size_t last_num_nodes_ = 256;
};

thread_local std::vector<ffi::Any> GraphExtractor::Impl::hold_;

GraphExtractor::GraphExtractor() : impl_(std::make_unique<Impl>()) {}
GraphExtractor::~GraphExtractor() = default;

ProgramGraph GraphExtractor::Extract(const TVMFFIObject* root) { return impl_->Extract(root); }

}  // namespace tpgnn
