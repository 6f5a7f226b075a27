/*!
 * \file tpgnn/node_features.h
 * \brief The numeric feature layout of a program-graph node.
 *
 * The layout is part of the model's contract: a checkpoint stores the feature names and is
 * refused when they differ from the running extension's, so any change here must append or
 * rename columns deliberately (and bump nothing silently).
 */
#ifndef TPGNN_NODE_FEATURES_H_
#define TPGNN_NODE_FEATURES_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace tpgnn {

/*! \brief Column indices of `node_features`; `kNumNodeFeatures` is F. */
enum NodeFeature : int32_t {
  kIsConst = 0,          // 1 for ir.IntImm / ir.FloatImm
  kConstValue,           // SignedLog(value) of an IntImm / FloatImm
  kLoopExtent,           // SignedLog(extent) of a tirx.For whose extent is a constant
  kForSerial,            // For.kind one-hot: 0 serial
  kForParallel,          //   1 parallel
  kForVectorized,        //   2 vectorized
  kForUnrolled,          //   3 unrolled
  kForThreadBinding,     //   4 thread binding
  kDtypeBits,            // bits of a DataType field (e.g. ir.PrimType.dtype)
  kDtypeLanes,           // SignedLog(lanes) of that DataType
  kDtypeInt,             // DataType code one-hot: int
  kDtypeUInt,            //   uint (bool included)
  kDtypeFloat,           //   float / bfloat
  kDtypeOther,           //   handle and anything else
  kIterSpatial,          // IterVar.iter_type one-hot: data parallel (0)
  kIterReduce,           //   commutative reduce (2)
  kIterOther,            //   any other iter type
  kUnrollMaxStep,        // SignedLog of pragma_auto_unroll_max_step / meta_schedule.unroll_*
  kUnrollExplicit,       // pragma_unroll_explicit value, or 1 for meta_schedule.unroll_explicit
  kVectorizeAnnotation,  // SignedLog of meta_schedule.vectorize
  kParallelAnnotation,   // SignedLog of meta_schedule.parallel
  kScopeGlobal,          // storage_scope string: "global"
  kScopeLocal,           //   "local*"
  kScopeShared,          //   "shared*"
  kOtherInt,             // SignedLog of the sum of the node's other integer scalar fields
  kOtherBool,            // number of the node's other boolean scalar fields that are true
  kNumElements,          // SignedLog(size) of a container (ffi.Array, ffi.Map, ffi.Shape)
  // Loop context: what the loops around a node do to it, so that every statement and access
  // knows how often it runs without message passing along the whole loop nest. "Enclosing"
  // means the tirx.For nodes on the walk's path from the root to the node's first visit; a
  // For encloses everything it references. Extents are summed as their loop_extent values
  // (log1p of each extent), so a sum stands for the log of the nest's iteration count.
  kEnclosingLoops,            // number of enclosing For nodes
  kEnclosingExtent,           // sum of their loop_extent
  kEnclosingParallelExtent,   //   of those that are parallel or thread-bound
  kEnclosingVectorizedExtent, //   of those that are vectorized
  kEnclosingUnrolledExtent,   //   of those that are unrolled
  kEnclosingUnrollMaxStep,    // largest unroll_max_step on the path, the node's own excluded
  // Access pattern of a load (ir.TensorLoad) or store (tirx.BufferStore), over the enclosing
  // loops with more than one iteration (see access_pattern.h). Strides are in elements of the
  // flattened buffer, as SignedLog of their magnitude.
  kAccessInnermostStride,  // stride along the innermost loop; 0 when the access stays put
  kAccessVaryingStride,    // stride along the innermost loop that moves the access
  kAccessTouchedExtent,    // sum of loop_extent of the loops that move it: log of elements touched
  kAccessReuseExtent,      // sum of loop_extent of the loops that do not: log of reuse
  kAccessApproximate,      // 1 when an index or the layout is not affine in the loop variables
  // What the access costs the memory system, over the same loops (see access_pattern.h). The
  // footprint is the number of distinct elements touched: the product of the moving loops'
  // extents, or the span of the offsets they reach when that is smaller (overlapping windows).
  kAccessElementBytes,          // SignedLog of the bytes of one element of the buffer
  kAccessUniqueBytes,           // SignedLog of footprint x element bytes
  kAccessCacheLines,            // SignedLog of the 64-byte lines the access walks through
  kAccessReuseDistanceBytes,    // SignedLog of the footprint inside the innermost reusing loop
  kAccessReuseDistanceIters,    // SignedLog of the iterations inside that loop
  kNumNodeFeatures
};

/*! \brief Names of the columns, in order; exported so Python and checkpoints can check them. */
inline constexpr const char* kNodeFeatureNames[kNumNodeFeatures] = {"is_const",
                                                                    "const_value",
                                                                    "loop_extent",
                                                                    "for_serial",
                                                                    "for_parallel",
                                                                    "for_vectorized",
                                                                    "for_unrolled",
                                                                    "for_thread_binding",
                                                                    "dtype_bits",
                                                                    "dtype_lanes",
                                                                    "dtype_int",
                                                                    "dtype_uint",
                                                                    "dtype_float",
                                                                    "dtype_other",
                                                                    "iter_spatial",
                                                                    "iter_reduce",
                                                                    "iter_other",
                                                                    "unroll_max_step",
                                                                    "unroll_explicit",
                                                                    "vectorize_annotation",
                                                                    "parallel_annotation",
                                                                    "scope_global",
                                                                    "scope_local",
                                                                    "scope_shared",
                                                                    "other_int",
                                                                    "other_bool",
                                                                    "num_elements",
                                                                    "enclosing_loops",
                                                                    "enclosing_extent",
                                                                    "enclosing_parallel_extent",
                                                                    "enclosing_vectorized_extent",
                                                                    "enclosing_unrolled_extent",
                                                                    "enclosing_unroll_max_step",
                                                                    "access_innermost_stride",
                                                                    "access_varying_stride",
                                                                    "access_touched_extent",
                                                                    "access_reuse_extent",
                                                                    "access_approximate",
                                                                    "access_element_bytes",
                                                                    "access_unique_bytes",
                                                                    "access_cache_lines",
                                                                    "access_reuse_distance_bytes",
                                                                    "access_reuse_distance_iters"};

/*! \brief Edge kinds of the graph; the value is what `edge_type` holds. */
enum EdgeType : int64_t {
  kParentToChild = 0,  // AST edge, from a node to each object it references
  kChildToParent = 1,  // the same edge reversed
  kDefUse = 2,         // from the node binding a variable to each node using it
  kNumEdgeTypes
};

inline constexpr const char* kEdgeTypeNames[kNumEdgeTypes] = {"parent_to_child", "child_to_parent",
                                                              "def_use"};

/*!
 * \brief Sign-preserving log transform, so that 1 and 1e9 both land in a small range.
 *
 * Infinite values (e.g. a `-inf` FloatImm initialising a max reduction) map to the transform
 * of the largest double, NaN to 0, so every feature is finite.
 * \return sign(x) * log1p(|x|)
 */
inline float SignedLog(double x) {
  if (std::isnan(x)) return 0.0f;
  const double magnitude = std::log1p(std::min(std::fabs(x), std::numeric_limits<double>::max()));
  return static_cast<float>(x < 0 ? -magnitude : magnitude);
}

}  // namespace tpgnn

#endif  // TPGNN_NODE_FEATURES_H_
