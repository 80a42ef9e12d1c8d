package ghclient

import "testing"

func TestParseURLs(t *testing.T) {
	tests := []struct {
		in, web, api, clone string
		wantErr             bool
	}{
		{in: "", web: "https://github.com/", api: "https://api.github.com/", clone: "https://github.com/o/r.git"},
		{in: "https://github.com", web: "https://github.com/", api: "https://api.github.com/", clone: "https://github.com/o/r.git"},
		{in: "https://ghe.example.com", web: "https://ghe.example.com/", api: "https://ghe.example.com/api/v3/", clone: "https://ghe.example.com/o/r.git"},
		{in: "https://ghe.example.com/api/v3/", web: "https://ghe.example.com/", api: "https://ghe.example.com/api/v3/", clone: "https://ghe.example.com/o/r.git"},
		{in: "http://127.0.0.1:4567", web: "http://127.0.0.1:4567/", api: "http://127.0.0.1:4567/", clone: "http://127.0.0.1:4567/o/r.git"},
		{in: "http://localhost:80/", web: "http://localhost:80/", api: "http://localhost:80/", clone: "http://localhost:80/o/r.git"},
		{in: "ftp://github.com", wantErr: true},
		{in: "https://user:pw@ghe.example.com", wantErr: true},
		{in: "ghe.example.com", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseURLs(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseURLs(%q) = %v, want error", tt.in, u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Web.String() != tt.web || u.API.String() != tt.api || u.CloneURL("o/r") != tt.clone {
				t.Errorf("ParseURLs(%q) = web %s api %s clone %s; want %s %s %s", tt.in, u.Web, u.API, u.CloneURL("o/r"), tt.web, tt.api, tt.clone)
			}
		})
	}
}
