# tests/openwrt/sdk/package.mk - stand-in for OpenWrt's package.mk: a
# BuildPackage that runs Build/Prepare, Build/Compile and the package's
# install step into $(PKG_INSTALL_ROOT)/pkg, Build/InstallDev into
# $(PKG_INSTALL_ROOT)/staging, and prints the conffiles.
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)

define BuildPackage
all:
	$$(Build/Prepare)
	$$(Build/Compile)
	$$(call Package/$(1)/install,$(PKG_INSTALL_ROOT)/pkg)
	$$(call Build/InstallDev,$(PKG_INSTALL_ROOT)/staging)

conffiles:
	@echo '$$(strip $$(Package/$(1)/conffiles))'
endef
