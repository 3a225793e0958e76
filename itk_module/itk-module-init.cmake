# Run by ITK before the module is configured: FocusNet needs LibTorch and nlohmann_json.
find_package(Torch REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
