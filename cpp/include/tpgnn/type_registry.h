/*!
 * \file tpgnn/type_registry.h
 * \brief Small helpers over tvm-ffi's type registry and raw values.
 */
#ifndef TPGNN_TYPE_REGISTRY_H_
#define TPGNN_TYPE_REGISTRY_H_

#include <tvm/ffi/c_api.h>

#include <cstdint>
#include <string_view>

namespace tpgnn {

/*! \brief Type key of a registered type index. */
inline std::string_view TypeKeyOf(int32_t type_index) {
  const TVMFFITypeInfo* info = TVMFFIGetTypeInfo(type_index);
  return {info->type_key.data, info->type_key.size};
}

/*! \brief Type index of a key, or -1 when no loaded library registered it. */
inline int32_t TypeIndexOf(std::string_view type_key) {
  TVMFFIByteArray key{type_key.data(), type_key.size()};
  int32_t index = -1;
  if (TVMFFITypeKeyToIndex(&key, &index) != 0) {
    // Take and drop the pending "not registered" error so it cannot leak into a later call.
    TVMFFIObjectHandle error = nullptr;
    TVMFFIErrorMoveFromRaised(&error);
    if (error != nullptr) TVMFFIObjectDecRef(error);
    return -1;
  }
  return index;
}

/*! \brief Whether a type is `ancestor_index` or derives from it (false for -1, unregistered). */
inline bool DerivesFrom(const TVMFFITypeInfo* info, int32_t ancestor_index) {
  if (ancestor_index < 0) return false;
  if (info->type_index == ancestor_index) return true;
  for (int i = 0; i < info->type_depth; ++i) {
    if (info->type_ancestors[i]->type_index == ancestor_index) return true;
  }
  return false;
}

/*! \brief Whether a raw value holds an object (strings included). */
inline bool IsObject(const TVMFFIAny& v) { return v.type_index >= kTVMFFIStaticObjectBegin; }
/*! \brief Whether a raw value is a string or bytes, boxed or small. */
inline bool IsString(const TVMFFIAny& v) {
  return v.type_index == kTVMFFIStr || v.type_index == kTVMFFISmallStr ||
         v.type_index == kTVMFFIBytes || v.type_index == kTVMFFISmallBytes;
}

}  // namespace tpgnn

#endif  // TPGNN_TYPE_REGISTRY_H_
