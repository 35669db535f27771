// A stand-in for csi-node-driver-registrar (kubernetes-csi/node-driver-registrar is not served by
// the Go module proxy here): it asks the CSI driver for its name over --csi-address, then serves
// kubelet's plugin registration API (pluginregistration/v1) on
// /registration/<driver>-reg.sock, telling kubelet where the driver's socket is on the host
// (--kubelet-registration-path). Test harness only (test/harness/real-node.sh).
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	csi "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type registrar struct {
	registerapi.UnimplementedRegistrationServer
	driver, endpoint string
}

func (r *registrar) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              r.driver,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r *registrar) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if s.PluginRegistered {
		log.Printf("kubelet registered %s", r.driver)
	} else {
		log.Printf("kubelet refused %s: %s", r.driver, s.Error)
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

func main() {
	csiAddress := flag.String("csi-address", "/csi/csi.sock", "the CSI driver's socket in this container")
	regPath := flag.String("kubelet-registration-path", "", "the CSI driver's socket on the host")
	regDir := flag.String("registration-dir", "/registration", "kubelet's plugins_registry, mounted")
	flag.Int("v", 0, "ignored (klog verbosity of the real registrar)")
	flag.Parse()
	if *regPath == "" {
		log.Fatal("--kubelet-registration-path is required")
	}

	var driver string
	for {
		name, err := pluginName(*csiAddress)
		if err == nil {
			driver = name
			break
		}
		log.Printf("waiting for the CSI driver at %s: %v", *csiAddress, err)
		time.Sleep(2 * time.Second)
	}
	sock := filepath.Join(*regDir, driver+"-reg.sock")
	_ = os.Remove(sock)
	lis, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatalf("listen %s: %v", sock, err)
	}
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, &registrar{driver: driver, endpoint: *regPath})
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		srv.Stop()
		_ = os.Remove(sock)
		os.Exit(0)
	}()
	log.Printf("serving registration of %s (endpoint %s) on %s", driver, *regPath, sock)
	if err := srv.Serve(lis); err != nil {
		log.Fatal(err)
	}
}

func pluginName(address string) (string, error) {
	conn, err := grpc.NewClient("unix://"+address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := csi.NewIdentityClient(conn).GetPluginInfo(ctx, &csi.GetPluginInfoRequest{})
	if err != nil {
		return "", err
	}
	return info.GetName(), nil
}
