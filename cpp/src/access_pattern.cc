/*!
 * \file access_pattern.cc
 * \brief Affine forms of buffer indices in loop variables, and the access columns made of them.
 *
 * Mirrored by tests/python/reference_walker.py (the `_affine` helpers there).
 */
#include <tpgnn/access_pattern.h>
#include <tpgnn/node_features.h>
#include <tpgnn/type_registry.h>
#include <tvm/ffi/any.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/shape.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/reflection/accessor.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tpgnn {
namespace ffi = tvm::ffi;

namespace {

/*! \brief Index expressions deeper than this are taken as opaque in the variables they use. */
constexpr int kMaxDepth = 64;

/*! \brief The cache line the cache-line column counts in, as on x86 and most Arm cores. */
constexpr double kCacheLineBytes = 64.0;

/*!
 * \brief sum(coefficient * variable) + constant, plus the variables the value depends on in a
 *  way that is not affine (`opaque`). Variables are identified by address.
 */
struct AffineForm {
  std::vector<std::pair<const TVMFFIObject*, int64_t>> terms;  // no zero coefficients
  std::vector<const TVMFFIObject*> opaque;
  int64_t constant = 0;

  bool IsConstant() const { return terms.empty() && opaque.empty(); }

  int64_t CoefficientOf(const TVMFFIObject* var) const {
    for (const auto& [v, c] : terms) {
      if (v == var) return c;
    }
    return 0;
  }

  bool DependsOn(const TVMFFIObject* var) const {
    return CoefficientOf(var) != 0 || std::find(opaque.begin(), opaque.end(), var) != opaque.end();
  }

  void AddOpaque(const TVMFFIObject* var) {
    if (std::find(opaque.begin(), opaque.end(), var) == opaque.end()) opaque.push_back(var);
  }

  /*! \brief Adds `scale * other`; a coefficient that overflows becomes opaque. */
  void Add(const AffineForm& other, int64_t scale) {
    for (const auto& [var, c] : other.terms) {
      int64_t scaled = 0;
      if (__builtin_mul_overflow(c, scale, &scaled)) {
        AddOpaque(var);
        continue;
      }
      auto it =
          std::find_if(terms.begin(), terms.end(), [&](const auto& t) { return t.first == var; });
      if (it == terms.end()) {
        terms.emplace_back(var, scaled);
      } else if (__builtin_add_overflow(it->second, scaled, &it->second)) {
        AddOpaque(var);
        terms.erase(it);
      } else if (it->second == 0) {
        terms.erase(it);
      }
    }
    for (const TVMFFIObject* var : other.opaque) AddOpaque(var);
    int64_t scaled = 0;
    if (!__builtin_mul_overflow(other.constant, scale, &scaled)) constant += scaled;
  }

  /*! \brief Makes every variable opaque: the value is not affine in them any more. */
  void MakeOpaque() {
    for (const auto& [var, c] : terms) AddOpaque(var);
    terms.clear();
    constant = 0;
  }

  /*! \brief floordiv by a positive constant: exact for coefficients it divides. */
  void FloorDiv(int64_t divisor) {
    std::vector<std::pair<const TVMFFIObject*, int64_t>> kept;
    for (const auto& [var, c] : terms) {
      if (c % divisor == 0) {
        kept.emplace_back(var, c / divisor);
      } else {
        AddOpaque(var);
      }
    }
    terms = std::move(kept);
    constant = constant >= 0 ? constant / divisor : -((-constant + divisor - 1) / divisor);
  }

  /*! \brief floormod by a positive constant: multiples of it vanish, the rest keep their
   *  stride (exact until the value wraps). */
  void FloorMod(int64_t divisor) {
    terms.erase(std::remove_if(terms.begin(), terms.end(),
                               [&](const auto& t) { return t.second % divisor == 0; }),
                terms.end());
    constant = ((constant % divisor) + divisor) % divisor;
  }
};

/*! \brief A field's info, found by name on a type or its ancestors; null when absent. */
const TVMFFIFieldInfo* FindField(int32_t type_index, std::string_view name) {
  if (type_index < 0) return nullptr;
  const TVMFFIFieldInfo* found = nullptr;
  ffi::reflection::ForEachFieldInfo(TVMFFIGetTypeInfo(type_index),
                                    [&](const TVMFFIFieldInfo* field) {
                                      if (std::string_view(field->name.data, field->name.size) ==
                                          name) {
                                        found = field;
                                      }
                                    });
  return found;
}

/*! \brief Reads a field of a live object (the returned Any holds its own reference). */
ffi::Any ReadField(const TVMFFIObject* obj, const TVMFFIFieldInfo* field) {
  ffi::Any out;
  void* addr = reinterpret_cast<char*>(const_cast<TVMFFIObject*>(obj)) + field->offset;
  TVM_FFI_CHECK_SAFE_CALL(field->getter(addr, reinterpret_cast<TVMFFIAny*>(&out)));
  return out;
}

/*! \brief The object a raw value holds, or null. */
const TVMFFIObject* ObjectOf(const TVMFFIAny& raw) {
  if (!IsObject(raw) || IsString(raw)) return nullptr;
  return static_cast<const TVMFFIObject*>(raw.v_obj);
}

/*!
 * \brief The object an Any holds, or null. Fields read here are stored in the IR, so the
 *  object outlives the Any while the walked function lives.
 */
const TVMFFIObject* ObjectOf(const ffi::Any& v) {
  return ObjectOf(*ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(v));
}

/*! \brief The elements of an ffi.Array or ffi.Shape, raw (none for anything else). */
std::vector<TVMFFIAny> Elements(const ffi::Any& v) {
  std::vector<TVMFFIAny> out;
  const TVMFFIObject* obj = ObjectOf(v);
  if (obj == nullptr) return out;
  if (obj->type_index == kTVMFFIShape) {
    const auto* shape = reinterpret_cast<const ffi::ShapeObj*>(obj);
    for (size_t i = 0; i < shape->size; ++i) {
      TVMFFIAny item{};
      item.type_index = kTVMFFIInt;
      item.v_int64 = shape->data[i];
      out.push_back(item);
    }
  } else if (obj->type_index == kTVMFFIArray) {
    for (const ffi::Any& item : *reinterpret_cast<const ffi::ArrayObj*>(obj)) {
      out.push_back(*ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(item));
    }
  }
  return out;
}

}  // namespace

class AccessAnalyzer::Impl {
 public:
  Impl()
      : var_(TypeIndexOf("ir.Var")),
        int_imm_(TypeIndexOf("ir.IntImm")),
        add_(TypeIndexOf("prim.Add")),
        sub_(TypeIndexOf("prim.Sub")),
        mul_(TypeIndexOf("prim.Mul")),
        floordiv_(TypeIndexOf("prim.FloorDiv")),
        floormod_(TypeIndexOf("prim.FloorMod")),
        cast_(TypeIndexOf("prim.Cast")),
        load_(TypeIndexOf("ir.TensorLoad")),
        store_(TypeIndexOf("tirx.BufferStore")),
        realize_(TypeIndexOf("s_tir.SBlockRealize")),
        buffer_type_(TypeIndexOf("tirx.BufferType")),
        prim_type_(TypeIndexOf("ir.PrimType")) {
    int_value_ = FindField(int_imm_, "value");
    lhs_ = FindField(add_, "a");
    rhs_ = FindField(add_, "b");
    cast_value_ = FindField(cast_, "value");
    load_buffer_ = FindField(load_, "source");
    load_indices_ = FindField(load_, "indices");
    store_buffer_ = FindField(store_, "buffer");
    store_indices_ = FindField(store_, "indices");
    iter_values_ = FindField(realize_, "iter_values");
    block_ = FindField(realize_, "block");
    iter_vars_ = FindField(TypeIndexOf("s_tir.SBlock"), "iter_vars");
    iter_var_var_ = FindField(TypeIndexOf("tirx.IterVar"), "var");
    var_ty_ = FindField(var_, "ty");
    shape_ = FindField(buffer_type_, "shape");
    strides_ = FindField(buffer_type_, "strides");
    buffer_dtype_ = FindField(buffer_type_, "dtype");
    prim_dtype_ = FindField(prim_type_, "dtype");
    enabled_ = int_value_ && lhs_ && rhs_ && cast_value_ && load_buffer_ && load_indices_ &&
               store_buffer_ && store_indices_ && iter_values_ && block_ && iter_vars_ &&
               iter_var_var_ && var_ty_ && shape_ && strides_ && buffer_dtype_ && prim_dtype_ &&
               sub_ >= 0 && mul_ >= 0 && floordiv_ >= 0 && floormod_ >= 0;
  }

  void Reset() {
    bindings_.clear();
    layouts_.clear();
  }

  bool IsAccess(int32_t t) const { return enabled_ && (t == load_ || t == store_); }
  bool IsBlockRealize(int32_t t) const { return enabled_ && t == realize_; }

  void BindBlockVars(const TVMFFIObject* realize) {
    const ffi::Any values_field = ReadField(realize, iter_values_);
    const ffi::Any block_field = ReadField(realize, block_);
    const TVMFFIObject* block = ObjectOf(block_field);
    if (block == nullptr) return;
    const ffi::Any iter_vars_field = ReadField(block, iter_vars_);
    std::vector<TVMFFIAny> values = Elements(values_field);
    std::vector<TVMFFIAny> iter_vars = Elements(iter_vars_field);
    if (values.size() != iter_vars.size()) return;
    for (size_t i = 0; i < values.size(); ++i) {
      const TVMFFIObject* iter_var = ObjectOf(iter_vars[i]);
      if (iter_var == nullptr) continue;
      const TVMFFIObject* var = ObjectOf(ReadField(iter_var, iter_var_var_));
      if (var != nullptr) bindings_[var] = Form(values[i], 0);
    }
  }

  void WriteFeatures(const TVMFFIObject* access, const std::vector<EnclosingLoop>& loops,
                     float* row) {
    const bool is_store = access->type_index == store_;
    const ffi::Any buffer_field = ReadField(access, is_store ? store_buffer_ : load_buffer_);
    const ffi::Any indices_field = ReadField(access, is_store ? store_indices_ : load_indices_);
    std::vector<TVMFFIAny> indices = Elements(indices_field);
    const Layout& layout = LayoutOf(ObjectOf(buffer_field), indices.size());
    AffineForm offset;
    for (size_t i = 0; i < indices.size(); ++i) {
      offset.Add(Form(indices[i], 0), layout.multipliers[i]);
    }
    const bool approximate = !layout.known || !offset.opaque.empty();
    const double bytes = layout.element_bytes;

    bool found_innermost = false, found_varying = false, found_reuse = false;
    Footprint footprint;
    double iterations = 1.0, lines = 1.0;
    for (const EnclosingLoop& loop : loops) {
      if (loop.single_iteration) continue;
      const int64_t stride = offset.CoefficientOf(loop.var);
      const bool moves = offset.DependsOn(loop.var);
      const double extent = static_cast<double>(std::max<int64_t>(loop.extent, 1));
      if (!found_innermost) {
        row[kAccessInnermostStride] = SignedLog(static_cast<double>(std::llabs(stride)));
        found_innermost = true;
      }
      if (!moves && !found_reuse) {
        row[kAccessReuseDistanceBytes] = SignedLog(footprint.Elements(approximate) * bytes);
        row[kAccessReuseDistanceIters] = SignedLog(iterations);
        found_reuse = true;
      }
      if (moves) {
        if (!found_varying) {
          row[kAccessVaryingStride] = SignedLog(static_cast<double>(std::llabs(stride)));
          lines = stride == 0 ? extent : LinesAlong(extent, std::llabs(stride), bytes);
          found_varying = true;
        } else {
          lines *= extent;
        }
        footprint.Add(extent, std::llabs(stride));
      }
      iterations *= extent;
      row[moves ? kAccessTouchedExtent : kAccessReuseExtent] += loop.log_extent;
    }
    const double elements = footprint.Elements(approximate);
    row[kAccessApproximate] = approximate ? 1.0f : 0.0f;
    row[kAccessElementBytes] = SignedLog(bytes);
    row[kAccessUniqueBytes] = SignedLog(elements * bytes);
    row[kAccessCacheLines] = SignedLog(std::min(lines, elements));
  }

 private:
  /*! \brief A buffer's element offset per index, whether it is known (else all 1), and the
   *  bytes of one element (0 when its dtype is not known). */
  struct Layout {
    bool known = false;
    std::vector<int64_t> multipliers;
    double element_bytes = 0.0;
  };

  /*! \brief The distinct elements a nest of moving loops touches, built innermost first. */
  struct Footprint {
    double product = 1.0;  // product of the extents
    double span = 1.0;     // 1 + sum |stride| x (extent - 1)

    void Add(double extent, int64_t stride) {
      product *= extent;
      span += static_cast<double>(stride) * (extent - 1.0);
    }
    /*! \brief The span bounds the footprint only when the offset is affine. */
    double Elements(bool approximate) const {
      return approximate ? product : std::min(product, span);
    }
  };

  /*! \brief 64-byte lines covered by `extent` elements `stride` elements apart, at most one
   *  per element. */
  static double LinesAlong(double extent, int64_t stride, double bytes) {
    const double span_bytes = ((extent - 1.0) * static_cast<double>(stride) + 1.0) * bytes;
    return std::min(extent, std::ceil(span_bytes / kCacheLineBytes));
  }

  /*!
   * \brief The layout of `buffer` accessed with `rank` indices, worked out once per buffer of
   *  the function: a function has a few buffers and many accesses to each.
   */
  const Layout& LayoutOf(const TVMFFIObject* buffer, size_t rank) {
    auto [it, fresh] = layouts_.try_emplace(buffer);
    if (fresh || it->second.multipliers.size() != rank) {
      const TVMFFIObject* type = BufferTypeOf(buffer);
      it->second.known = RowMajorMultipliers(type, rank, &it->second.multipliers);
      it->second.element_bytes = ElementBytes(type);
    }
    return it->second;
  }

  /*!
   * \brief The `tirx.BufferType` of a buffer variable, null when `buffer` is not one. The
   *  variable holds its type, so the pointer is valid as long as `buffer` is.
   */
  const TVMFFIObject* BufferTypeOf(const TVMFFIObject* buffer) {
    if (!IsVar(buffer)) return nullptr;
    const ffi::Any type_field = ReadField(buffer, var_ty_);
    const TVMFFIObject* type = ObjectOf(type_field);
    return type != nullptr && type->type_index == buffer_type_ ? type : nullptr;
  }

  /*! \brief Bytes of one element of a buffer of `type` (bits x lanes, rounded up), 0 when
   *  not known. */
  double ElementBytes(const TVMFFIObject* type) {
    if (type == nullptr) return 0.0;
    const ffi::Any prim_field = ReadField(type, buffer_dtype_);
    const TVMFFIObject* prim = ObjectOf(prim_field);
    if (prim == nullptr || prim->type_index != prim_type_) return 0.0;
    const ffi::Any dtype = ReadField(prim, prim_dtype_);
    const TVMFFIAny* raw = ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(dtype);
    if (raw->type_index != kTVMFFIDataType) return 0.0;
    const int64_t bits = static_cast<int64_t>(raw->v_dtype.bits) * raw->v_dtype.lanes;
    return static_cast<double>((bits + 7) / 8);
  }

  /*! \brief Whether `obj` is a variable (loop, block and buffer variables alike). */
  bool IsVar(const TVMFFIObject* obj) const {
    return obj != nullptr && DerivesFrom(TVMFFIGetTypeInfo(obj->type_index), var_);
  }

  /*!
   * \brief The element offset of each index of a buffer of `type`: its constant strides,
   *  else the row-major products of its constant shape. False (and 1s) when the layout is
   *  not known.
   */
  bool RowMajorMultipliers(const TVMFFIObject* type, size_t rank,
                           std::vector<int64_t>* multipliers) {
    multipliers->assign(rank, 1);
    if (type == nullptr) return false;
    std::vector<int64_t> strides = ConstantList(ReadField(type, strides_));
    if (!strides.empty()) {
      if (strides.size() != rank || std::count(strides.begin(), strides.end(), -1) > 0) {
        return false;
      }
      *multipliers = strides;
      return true;
    }
    std::vector<int64_t> shape = ConstantList(ReadField(type, shape_));
    if (shape.size() != rank) return false;
    std::vector<int64_t> row_major(rank, 1);
    int64_t product = 1;
    for (size_t i = rank; i-- > 0;) {
      row_major[i] = product;
      if (shape[i] < 0 || __builtin_mul_overflow(product, shape[i], &product)) return false;
    }
    *multipliers = std::move(row_major);
    return true;
  }

  /*! \brief The values of a list of constants; -1 for an element that is not constant. */
  std::vector<int64_t> ConstantList(const ffi::Any& v) {
    std::vector<int64_t> out;
    for (const TVMFFIAny& item : Elements(v)) {
      AffineForm f = Form(item, 0);
      out.push_back(f.IsConstant() ? f.constant : -1);
    }
    return out;
  }

  int64_t IntValue(const TVMFFIObject* imm) {
    ffi::Any v = ReadField(imm, int_value_);
    const TVMFFIAny* raw = ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(v);
    return raw->type_index == kTVMFFIInt ? raw->v_int64 : 0;
  }

  /*! \brief The affine form of an element of an index list (a PrimExpr or a plain int). */
  AffineForm Form(const TVMFFIAny& item, int depth) {
    if (item.type_index == kTVMFFIInt) {
      AffineForm f;
      f.constant = item.v_int64;
      return f;
    }
    return Form(ObjectOf(item), depth);
  }

  AffineForm Form(const TVMFFIObject* expr, int depth) {
    AffineForm f;
    if (expr == nullptr) return f;
    const int32_t t = expr->type_index;
    if (t == int_imm_) {
      f.constant = IntValue(expr);
    } else if (IsVar(expr)) {
      auto it = bindings_.find(expr);
      if (it != bindings_.end()) return it->second;
      f.terms.emplace_back(expr, 1);
    } else if (depth >= kMaxDepth) {
      CollectOpaque(expr, 0, &f);
    } else if (t == cast_) {
      return Form(ObjectOf(ReadField(expr, cast_value_)), depth + 1);
    } else if (t == add_ || t == sub_ || t == mul_ || t == floordiv_ || t == floormod_) {
      f = Form(ObjectOf(ReadField(expr, lhs_)), depth + 1);
      AffineForm rhs = Form(ObjectOf(ReadField(expr, rhs_)), depth + 1);
      if (t == add_ || t == sub_) {
        f.Add(rhs, t == sub_ ? -1 : 1);
      } else if (t == mul_ && (f.IsConstant() || rhs.IsConstant())) {
        AffineForm product;
        product.Add(f.IsConstant() ? rhs : f, f.IsConstant() ? f.constant : rhs.constant);
        f = std::move(product);
      } else if (t != mul_ && rhs.IsConstant() && rhs.constant > 0) {
        if (t == floordiv_) {
          f.FloorDiv(rhs.constant);
        } else {
          f.FloorMod(rhs.constant);
        }
      } else {
        f.Add(rhs, 1);
        f.MakeOpaque();
      }
    } else {
      CollectOpaque(expr, depth, &f);
    }
    return f;
  }

  /*! \brief Adds every variable under `expr` (through bindings) to `f`'s opaque ones. */
  void CollectOpaque(const TVMFFIObject* expr, int depth, AffineForm* f) {
    if (expr == nullptr || depth >= kMaxDepth) return;
    if (IsVar(expr)) {
      auto it = bindings_.find(expr);
      if (it == bindings_.end()) {
        f->AddOpaque(expr);
      } else {
        AffineForm bound = it->second;
        bound.MakeOpaque();
        f->Add(bound, 1);
      }
      return;
    }
    if (expr->type_index == kTVMFFIArray) {
      for (const ffi::Any& item : *reinterpret_cast<const ffi::ArrayObj*>(expr)) {
        CollectOpaque(ObjectOf(item), depth + 1, f);
      }
      return;
    }
    if (expr->type_index < kTVMFFIDynObjectBegin) return;
    ffi::reflection::ForEachFieldInfo(
        TVMFFIGetTypeInfo(expr->type_index), [&](const TVMFFIFieldInfo* field) {
          std::string_view name(field->name.data, field->name.size);
          if (name == "span" || name == "ty") return;
          CollectOpaque(ObjectOf(ReadField(expr, field)), depth + 1, f);
        });
  }

  const int32_t var_, int_imm_, add_, sub_, mul_, floordiv_, floormod_, cast_, load_, store_,
      realize_, buffer_type_, prim_type_;
  const TVMFFIFieldInfo *int_value_, *lhs_, *rhs_, *cast_value_, *load_buffer_, *load_indices_,
      *store_buffer_, *store_indices_, *iter_values_, *block_, *iter_vars_, *iter_var_var_,
      *var_ty_, *shape_, *strides_, *buffer_dtype_, *prim_dtype_;
  bool enabled_ = false;
  std::unordered_map<const TVMFFIObject*, AffineForm> bindings_;  // block var -> its value
  std::unordered_map<const TVMFFIObject*, Layout> layouts_;       // buffer -> its layout
};

AccessAnalyzer::AccessAnalyzer() : impl_(std::make_unique<Impl>()) {}
AccessAnalyzer::~AccessAnalyzer() = default;

void AccessAnalyzer::Reset() { impl_->Reset(); }
bool AccessAnalyzer::IsAccess(int32_t type_index) const { return impl_->IsAccess(type_index); }
bool AccessAnalyzer::IsBlockRealize(int32_t type_index) const {
  return impl_->IsBlockRealize(type_index);
}
void AccessAnalyzer::BindBlockVars(const TVMFFIObject* realize) { impl_->BindBlockVars(realize); }
void AccessAnalyzer::WriteFeatures(const TVMFFIObject* access,
                                   const std::vector<EnclosingLoop>& loops, float* row) {
  impl_->WriteFeatures(access, loops, row);
}

}  // namespace tpgnn
