# tests/openwrt/sdk/rules.mk - the few variables of OpenWrt's rules.mk that
# the feed's package Makefiles use, so that their build steps can run on
# this machine (tests/e2e/test_packaging.sh).  Not OpenWrt's file.
INCLUDE_DIR := $(TOPDIR)
BUILD_DIR   ?= $(TOPDIR)/build
STAGING_DIR ?= $(TOPDIR)/staging
TARGET_CC   ?= cc
TARGET_AR   ?= ar
TARGET_CFLAGS ?= -Os
TARGET_CPPFLAGS ?=
TARGET_LDFLAGS ?=
FPIC := -fPIC
INSTALL_DIR  := install -d -m0755
INSTALL_BIN  := install -m0755
INSTALL_CONF := install -m0600
CP := cp -fpR
LN := ln -sf
