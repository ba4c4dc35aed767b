// Package image is berth-docker's image store: what `import`, `images` and
// `rmi` work on, and where `run` finds the layer directories it stacks with
// overlayfs.
//
// # Layout
//
// Everything lives under one root directory (DefaultRoot unless told
// otherwise), so tests and alternative installations can use any directory:
//
//	Root/lock               flock(2)ed: shared by readers, exclusive by writers
//	Root/refs.json          {"name:tag": "<image id>", ...}
//	Root/images/<id>.json   one record per image (config and layer list)
//	Root/layers/<hex>/diff  one unpacked layer, used as an overlayfs lowerdir
//	Root/layers/<hex>/layer.json   its diff ID and size
//	Root/tmp/               imports in progress and layers being deleted
//
// A layer is named by its diff ID (the sha256 of its uncompressed tar
// stream), the same identity OCI image configs use in rootfs.diff_ids, so a
// layer that several images have in common is unpacked and stored once,
// whatever compression each image used for it. Names are kept only in
// refs.json so that moving a name between images is one atomic write.
// Every metadata file is written to a temporary file and renamed into place,
// and an import unpacks into its own directory under Root/tmp and renames
// its layers into Root/layers only once everything has been read and
// checked, so a failed or interrupted import leaves nothing behind that a
// reader could see.
//
// # Layers and whiteouts
//
// Each layer tar is unpacked into its own directory in overlayfs's on-disk
// form, so that the layer directories, stacked as lowerdirs, show the image
// exactly: an OCI whiteout ".wh.NAME" becomes a character device 0/0 named
// NAME, and an opaque marker ".wh..wh..opq" becomes the
// trusted.overlay.opaque=y extended attribute on its directory.
//
// # Dependency choice
//
// Unpacking uses github.com/moby/go-archive (archive.Unpack with
// OverlayWhiteoutFormat, and its compression package to detect and undo
// gzip, zstd, bzip2 or xz). It is the code Docker itself unpacks layers
// with, is maintained, already does the whiteout conversion wanted here,
// and handles the long tail of tar details that a ~200-line rewrite would
// get subtly wrong: hardlinks, devices, fifos, ownership, setuid bits
// applied after chown, extended attributes, implied parent directories, and
// directory times restored after their contents. Since v0.3 it resolves
// every path through os.Root (openat2-style confinement), so no entry can
// be written outside the layer directory. Its dependencies are small
// (containerd/log, klauspost/compress, moby/sys/*, moby/patternmatcher).
// The alternatives were heavier for the same result:
// github.com/containerd/containerd/v2/pkg/archive drags in the containerd
// module, and github.com/opencontainers/umoci's oci/layer, which also has
// an overlayfs mode, brings apex/log, go-mtree (through a replace directive
// that does not apply to dependents) and protobuf. The OCI types come from
// github.com/opencontainers/image-spec.
//
// go-archive confines writes, but it quietly re-roots an entry such as
// "link/etc/x" below an earlier symlink "link -> /" inside the layer. This
// package goes further and refuses such archives outright, along with any
// entry or hardlink target that has a ".." component: every header passes
// through a filter (filterLayer) before go-archive sees it. The filter also
// drops trusted.overlay.* and user.overlay.* xattrs from the archive, so
// an image cannot plant overlayfs redirects or metacopy markers of its own;
// opaque directories come only from the OCI marker.
package image
