package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/bundle/image"
)

var importCmd = &cli.Command{
	Name: "import", Usage: "import an image: rootfs tarball or directory, OCI layout, or docker save archive",
	ArgsUsage: "SOURCE NAME[:TAG]",
	Action: func(c *cli.Context) error {
		if c.NArg() != 2 {
			return errors.New(`"import" requires exactly 2 arguments: SOURCE NAME[:TAG]`)
		}
		return importWith(c, func(is *image.Store) (*image.Image, error) {
			return is.Import(c.Args().Get(0), c.Args().Get(1))
		})
	},
}

var importBusyboxCmd = &cli.Command{
	Name: "import-busybox", Usage: "make an image from the host's static busybox", ArgsUsage: "[NAME[:TAG]]",
	Flags: []cli.Flag{&cli.StringFlag{Name: "busybox", Value: "/bin/busybox"}},
	Action: func(c *cli.Context) error {
		ref := "busybox:latest"
		if c.NArg() > 0 {
			ref = c.Args().First()
		}
		return importWith(c, func(is *image.Store) (*image.Image, error) {
			return is.ImportBusybox(c.String("busybox"), ref)
		})
	},
}

// importWith runs one of the image store's imports and prints the new
// image's ID, as docker import does.
func importWith(c *cli.Context, imp func(*image.Store) (*image.Image, error)) error {
	_, is, err := stores(c)
	if err != nil {
		return err
	}
	img, err := imp(is)
	if err != nil {
		return err
	}
	fmt.Println("sha256:" + img.ID)
	return nil
}

var imagesCmd = &cli.Command{
	Name: "images", Usage: "list images",
	Flags: []cli.Flag{&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}}},
	Action: func(c *cli.Context) error {
		_, is, err := stores(c)
		if err != nil {
			return err
		}
		imgs, err := is.List()
		if err != nil {
			return err
		}
		if c.Bool("quiet") {
			for _, i := range imgs {
				fmt.Println(i.ID[:12])
			}
			return nil
		}
		return imageTable(imgs)
	},
}

// imageTable prints docker's images table: a row per name an image has.
func imageTable(imgs []*image.Image) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	for _, i := range imgs {
		names := i.Names
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag, _ := strings.Cut(n, ":")
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", repo, tag, i.ID[:12], ago(i.Created)+" ago", humanSize(i.Size))
		}
	}
	return w.Flush()
}

var rmiCmd = &cli.Command{
	Name: "rmi", Usage: "remove images", ArgsUsage: "IMAGE...",
	Action: func(c *cli.Context) error {
		s, is, err := stores(c)
		if err != nil {
			return err
		}
		used, err := s.ImagesInUse()
		if err != nil {
			return err
		}
		inUse := func(id string) bool { return used[id] }
		for _, ref := range c.Args().Slice() {
			if err := is.Remove(ref, inUse); err != nil {
				return err
			}
			fmt.Println("Untagged: " + ref)
		}
		return nil
	},
}
