package secrets

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/gittest"
)

// credCase is one file and what the credential-files rules find in it: the
// rule and the credential it reports, or nothing of theirs (secret "").
type credCase struct {
	name    string
	rule    string // the rule the case is about
	path    string
	content string
	// secret is the credential the rule reports ("a | b": each of them,
	// in order); "" when it must report nothing.
	secret string
}

// credentialFileCases hold a positive and a negative case (at least) for
// every rule of the credential-files rule set. Every credential here is
// made up for these tests.
var credentialFileCases = []credCase{
	// npm and yarn
	{"npmrc scoped token", "credfile-npmrc-auth", "web/.npmrc",
		"registry=https://registry.npmjs.org/\n//npm.corp.internal/:_authToken=Vt9qLw2xRk7ZpB4mHs8c\n", "Vt9qLw2xRk7ZpB4mHs8c"},
	{"npmrc legacy _auth", "credfile-npmrc-auth", ".npmrc", "_auth = ZGVwbG95OlRyMHViYWRvdXI=\nalways-auth=true\n",
		"ZGVwbG95OlRyMHViYWRvdXI="}, // once: the rule set does not decode
	{"npmrc _password", "credfile-npmrc-auth", ".npmrc", "//nexus.lan/repository/npm/:_password=\"S3ntinelFjord\"\n", "S3ntinelFjord"},
	{"yarnrc v1 quoted", "credfile-npmrc-auth", ".yarnrc", "\"//registry.yarnpkg.com/:_authToken\" \"Hx3pQe8vNw2LkT6r\"\n", "Hx3pQe8vNw2LkT6r"},
	{"yarnrc.yml npmAuthToken", "credfile-npmrc-auth", "app/.yarnrc.yml", "npmScopes:\n  corp:\n    npmAuthToken: \"Jq4Wm8sRz1Xc5Vb9\"\n", "Jq4Wm8sRz1Xc5Vb9"},
	{"npmrc token from the environment", "credfile-npmrc-auth", ".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", ""},
	{"npmrc commented out", "credfile-npmrc-auth", ".npmrc", "# //registry.npmjs.org/:_authToken=Vt9qLw2xRk7ZpB4mHs8c\n", ""},
	{"npmrc without auth", "credfile-npmrc-auth", ".npmrc", "registry=https://registry.npmjs.org/\nalways-auth=true\nsave-exact=true\n", ""},
	{"npmrc content in another file", "credfile-npmrc-auth", "docs/npm.md", "//npm.corp.internal/:_authToken=Vt9qLw2xRk7ZpB4mHs8c\n", ""},

	// Docker
	{"docker config auth", "credfile-docker-config-auth", "ci/.docker/config.json",
		"{\"auths\": {\"registry.corp.lan\": {\"auth\": \"Y2lib3Q6THVtZW4tRmFyby05OQ==\"}}}\n", "Y2lib3Q6THVtZW4tRmFyby05OQ=="},
	{"dockercfg identity token", "credfile-docker-config-auth", ".dockercfg", "{\"quay.io\": {\"identitytoken\": \"Rk2zPq7Ym4Xw9Tn3\"}}\n", "Rk2zPq7Ym4Xw9Tn3"},
	{"docker config with a credential store", "credfile-docker-config-auth", ".docker/config.json", "{\"auths\": {\"ghcr.io\": {}}, \"credsStore\": \"desktop\"}\n", ""},
	{"docker config empty auth", "credfile-docker-config-auth", ".docker/config.json", "{\"auths\": {\"ghcr.io\": {\"auth\": \"\"}}}\n", ""},
	{"auth key in another json", "credfile-docker-config-auth", "fixtures/config.json", "{\"auth\": \"Y2lib3Q6THVtZW4tRmFyby05OQ==\"}\n", ""},

	// git credentials and netrc
	{"git-credentials", "credfile-git-credentials", ".git-credentials", "https://deploy:Nq7Rk2Lx9Pw4Zs@git.corp.lan\n", "Nq7Rk2Lx9Pw4Zs"},
	{"git-credentials without password", "credfile-git-credentials", ".git-credentials", "https://deploy@git.corp.lan\n", ""},
	{"git-credentials variable", "credfile-git-credentials", ".git-credentials", "https://x-access-token:${GH_TOKEN}@github.com\n", ""},
	{"netrc one line", "credfile-netrc-password", ".netrc", "machine ftp.corp.lan login backup password Gr4nite-Owl-71\n", "Gr4nite-Owl-71"},
	{"netrc multi-line", "credfile-netrc-password", "home/_netrc", "machine api.corp.lan\n  login ci\n  password Pv8sLq3Tz\n", "Pv8sLq3Tz"},
	{"netrc without password", "credfile-netrc-password", ".netrc", "machine api.corp.lan login ci\n", ""},
	{"netrc placeholder", "credfile-netrc-password", ".netrc", "machine api.corp.lan login ci password <password>\n", ""},

	// PostgreSQL, MySQL
	{"pgpass", "credfile-pgpass-password", ".pgpass", "# host:port:db:user:password\ndb.corp.lan:5432:orders:app:Wq9-Lm3r-Tx7\n", "Wq9-Lm3r-Tx7"},
	{"pgpass.conf", "credfile-pgpass-password", "win/pgpass.conf", "*:*:*:report:Hs4Kd8Pw2\n", "Hs4Kd8Pw2"},
	{"pgpass wildcard password", "credfile-pgpass-password", ".pgpass", "localhost:5432:*:postgres:*\n", ""},
	{"pgpass comment only", "credfile-pgpass-password", ".pgpass", "# hostname:port:database:username:password\n", ""},
	{"my.cnf", "credfile-mysql-cnf-password", ".my.cnf", "[client]\nuser=backup\npassword=Tz6Qw1Ne9Lr\n", "Tz6Qw1Ne9Lr"},
	{"my.cnf quoted", "credfile-mysql-cnf-password", "etc/mysql/my.cnf", "[mysqldump]\npassword = \"Bk2 Vn7 Xr4\"\n", "Bk2 Vn7 Xr4"},
	{"my.cnf without password", "credfile-mysql-cnf-password", "my.cnf", "[mysqld]\nbind-address = 0.0.0.0\nmax_connections = 500\n", ""},
	{"my.cnf commented password", "credfile-mysql-cnf-password", ".my.cnf", "[client]\n#password=Tz6Qw1Ne9Lr\n", ""},

	// s3cmd and AWS
	{"s3cfg", "credfile-s3cfg-secret", ".s3cfg", "[default]\naccess_key = AKIAZ7QPR2LM4TX8VW3N\nsecret_key = q8Vw2Lr5Tn9Pz3Xk6Hm1Bc4Nd7Fg0Js2Ky5Qa8Ue\n",
		"q8Vw2Lr5Tn9Pz3Xk6Hm1Bc4Nd7Fg0Js2Ky5Qa8Ue"},
	{"s3cfg empty values", "credfile-s3cfg-secret", ".s3cfg", "[default]\naccess_token =\ngpg_passphrase =\nsecret_key =\n", ""},
	{"aws credentials", "credfile-aws-credentials-file", "deploy/.aws/credentials",
		"[prod]\naws_access_key_id = AKIAZ7QPR2LM4TX8VW3N\naws_secret_access_key = Hr7pLw3Qz9Xk2Vn6Tb1Ms5Cd8Fj4Gy0Ke3Np7Ra2\n", "Hr7pLw3Qz9Xk2Vn6Tb1Ms5Cd8Fj4Gy0Ke3Np7Ra2"},
	{"aws session token", "credfile-aws-credentials-file", "credentials", "[tmp]\naws_session_token = IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQ\n", "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQ"},
	{"aws credentials from a process", "credfile-aws-credentials-file", ".aws/credentials", "[sso]\ncredential_process = aws-vault exec sso --json\n", ""},
	{"aws secret in a script", "credfile-aws-credentials-file", "scripts/setup.sh", "aws_secret_access_key = Hr7pLw3Qz9Xk2Vn6Tb1Ms5Cd8Fj4Gy0Ke3Np7Ra2\n", ""},

	// htpasswd and shadow
	{"htpasswd apr1", "credfile-htpasswd-hash", "nginx/.htpasswd", "admin:$apr1$Kq9sLw2e$Zx7Vn3Pm8Tb1Rc5Hd4Jf0.\n", "$apr1$Kq9sLw2e$Zx7Vn3Pm8Tb1Rc5Hd4Jf0."},
	{"htpasswd bcrypt", "credfile-htpasswd-hash", "conf/site.htpasswd", "ops:$2y$10$Wq8LkTz3Xm5Vn9Pb2Rc7HuJd4Fg6Ks1Ny0Qa3Ue8Lp5Mt2Zw7Xv9\n", "$2y$10$Wq8LkTz3Xm5Vn9Pb2Rc7HuJd4Fg6Ks1Ny0Qa3Ue8Lp5Mt2Zw7Xv9"},
	{"htdigest", "credfile-htpasswd-hash", ".htdigest", "ops:Private Area:5f2b9c1e8d7a4f6b3c0e9d8a7b6c5d4e\n", "5f2b9c1e8d7a4f6b3c0e9d8a7b6c5d4e"},
	{"htpasswd locked account", "credfile-htpasswd-hash", ".htpasswd", "# disabled\nold:*\n", ""},
	{"htpasswd test account", "credfile-htpasswd-hash", "test/registry/htpasswd", "testuser:$2y$05$Lq8Vw3Zx7Tn2Rk5Hm9Pb1Oc4Nd6Fg0Js2Ky5Qa8Ue3Wt7Xz1Cv4Bn\n", ""},
	{"shadow sha512", "credfile-shadow-hash", "rootfs/etc/shadow", "root:$6$Qz8Lw2Xk$Vn3Pm7Tb1Rc5Hd9Jf4Ks0Ny6Qa2Ue8Lp3Mt7Zw1Xv5:19700:0:99999:7:::\n",
		"$6$Qz8Lw2Xk$Vn3Pm7Tb1Rc5Hd9Jf4Ks0Ny6Qa2Ue8Lp3Mt7Zw1Xv5"},
	{"shadow locked accounts", "credfile-shadow-hash", "etc/shadow", "root:*:19700:0:99999:7:::\ndaemon:!:19700::::::\n", ""},
	{"passwd without hashes", "credfile-shadow-hash", "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n", ""},
	{"shadow test account", "credfile-shadow-hash", "testdata/etc/shadow", "tester:$6$Qz8Lw2Xk$Vn3Pm7Tb1Rc5Hd9Jf4Ks0Ny6Qa2Ue8Lp3Mt7Zw1Xv5:19700:0:99999:7:::\n", ""},

	// private key files
	{"putty key", "credfile-putty-private-key", "keys/deploy.ppk",
		"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIHq8Lw2Xk9Vn3Pm7Tb1Rc5Hd4Jf0Ks6Ny2Qa8Ue3Lp7M\nPrivate-Lines: 1\nAAAAIFq7Rk2Lw9Xm3Vn8Pb1Tc6Hd4Jf0Ks5Ny2Qa7Ue3Lp9MZw1\nPrivate-MAC: 4f2b9c1e8d7a4f6b3c0e9d8a7b6c5d4e3f2a1b0c\n",
		"AAAAIFq7Rk2Lw9Xm3Vn8Pb1Tc6Hd4Jf0Ks5Ny2Qa7Ue3Lp9MZw1"},
	{"putty public key only", "credfile-putty-private-key", "keys/deploy.ppk", "---- BEGIN SSH2 PUBLIC KEY ----\nAAAAC3NzaC1lZDI1NTE5AAAAIHq8Lw2Xk9Vn3Pm7Tb1Rc5Hd4Jf0Ks6Ny2Qa8Ue3Lp7M\n---- END SSH2 PUBLIC KEY ----\n", ""},
	{"wireguard private key", "credfile-wireguard-private-key", "vpn/wg0.conf",
		"[Interface]\nAddress = 10.8.0.2/24\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n", "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="},
	{"wireguard public key only", "credfile-wireguard-private-key", "vpn/wg0.conf", "[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n", ""},
	{"keystore.properties", "credfile-keystore-password", "android/keystore.properties", "storeFile=release.jks\nstorePassword=Lq8Vw3Zx\nkeyAlias=upload\nkeyPassword=Rn5Tb2Hm\n", "Lq8Vw3Zx | Rn5Tb2Hm"},
	{"keystore.properties from the environment", "credfile-keystore-password", "android/keystore.properties", "storePassword=$KEYSTORE_PASSWORD\n", ""},

	// Rails
	{"rails master key", "credfile-rails-master-key", "config/master.key", "3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e\n", "3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e"},
	{"rails environment key", "credfile-rails-master-key", "config/credentials/production.key", "8b2e4f6a1c9d3e7f5a0b8c2d4e6f1a9b", "8b2e4f6a1c9d3e7f5a0b8c2d4e6f1a9b"},
	{"rails master key not a key", "credfile-rails-master-key", "config/master.key", "# keep this file out of git\n", ""},
	{"rails secrets.yml", "credfile-rails-secret-key-base", "config/secrets.yml",
		"production:\n  secret_key_base: 9c4e7a1f3b8d2c6e0a5f9b3d7c1e8a4f2b6d0c9e3a7f1b5d8c2e6a0f4b9d3c7e1a5f8b2d6c0e4a9f3b7d1c5e8a2f6b0d4c9e3a7f1b5d8c2e\n",
		"9c4e7a1f3b8d2c6e0a5f9b3d7c1e8a4f2b6d0c9e3a7f1b5d8c2e6a0f4b9d3c7e1a5f8b2d6c0e4a9f3b7d1c5e8a2f6b0d4c9e3a7f1b5d8c2e"},
	{"rails secrets.yml from the environment", "credfile-rails-secret-key-base", "config/secrets.yml", "production:\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>\n", ""},

	// Django
	{"django settings", "credfile-django-secret-key", "mysite/settings.py", "DEBUG = False\nSECRET_KEY = 'q8#w2l$r5t^n9p3x@k6h!m1b4c7d0f'\n", "q8#w2l$r5t^n9p3x@k6h!m1b4c7d0f"},
	{"django settings package", "credfile-django-secret-key", "mysite/settings/production.py", "SECRET_KEY = \"Zr7-Lq2_Wx9.Vn4~Pb1+Tc6=Hd3\"\n", "Zr7-Lq2_Wx9.Vn4~Pb1+Tc6=Hd3"},
	{"django key from the environment", "credfile-django-secret-key", "mysite/settings.py", "SECRET_KEY = os.environ[\"DJANGO_SECRET_KEY\"]\n", ""},
	{"django key with a default from getenv", "credfile-django-secret-key", "mysite/settings.py", "SECRET_KEY = os.getenv('SECRET_KEY', 'q8#w2l$r5t^n9p3x@k6h!m1b4c7d0f')\n", ""},
	{"django placeholder", "credfile-django-secret-key", "mysite/settings.py", "SECRET_KEY = 'please-change-me-before-deploying-this'\n", ""},

	// WordPress
	{"wordpress salt", "credfile-wordpress-salt", "wp-config.php", "define( 'AUTH_KEY', 'Lq|8w2X}k9V n3P[m7T]b1R<c5H@d4J' );\n", "Lq|8w2X}k9V n3P[m7T]b1R<c5H@d4J"},
	{"wordpress sample salt", "credfile-wordpress-salt", "wp-config-sample.php", "define( 'AUTH_KEY',         'put your unique phrase here' );\n", ""},
	{"wordpress db password", "credfile-wordpress-db-password", "public/wp-config.php", "define( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', 'Fj4-Gy0-Ke3' );\n", "Fj4-Gy0-Ke3"},
	{"wordpress sample db password", "credfile-wordpress-db-password", "wp-config-sample.php", "define( 'DB_PASSWORD', 'password_here' );\n", ""},
	{"wordpress db password from the environment", "credfile-wordpress-db-password", "wp-config.php", "define( 'DB_PASSWORD', getenv('WORDPRESS_DB_PASSWORD') );\n", ""},

	// .env and PHP configuration
	{"laravel env password", "credfile-dotenv-secret", "api/.env", "APP_NAME=Shop\nDB_PASSWORD=Nw4Tz8Qx2\n", "Nw4Tz8Qx2"},
	{"laravel app key", "credfile-dotenv-secret", ".env", "APP_KEY=base64:Kx9Vn3Pm7Tb1Rc5Hd4Jf0Ks6Ny2Qa8Ue3Lp7MzW1xR=\n", "base64:Kx9Vn3Pm7Tb1Rc5Hd4Jf0Ks6Ny2Qa8Ue3Lp7MzW1xR="},
	{"env quoted secret", "credfile-dotenv-secret", ".env.production", "export JWT_SECRET=\"Pz5 Lq8 Wx2 Rn6\"\n", "Pz5 Lq8 Wx2 Rn6"},
	{"env empty and null", "credfile-dotenv-secret", ".env", "DB_PASSWORD=\nMAIL_PASSWORD=null\nREDIS_PASSWORD=${REDIS_PASS}\n", ""},
	{"env settings about secrets", "credfile-dotenv-secret", ".env", "TOKEN_TTL=3600s\nDB_PASSWORD_FILE=/run/secrets/db\nJWT_SECRET_ALGORITHM=HS256\n", ""},
	{"env template", "credfile-dotenv-secret", ".env.example", "DB_PASSWORD=Nw4Tz8Qx2\n", ""},
	{"php config array", "credfile-php-config-password", "app/config/database.php", "return ['host' => 'db', 'password' => 'Hq3-Vn8-Lz1'];\n", "Hq3-Vn8-Lz1"},
	{"php config variable", "credfile-php-config-password", "LocalSettings.php", "$wgDBpassword = \"Tk5Wr9Qm2\";\n", "Tk5Wr9Qm2"},
	{"php config define", "credfile-php-config-password", "inc/config.php", "define('DB_PASS', 'Pb7Xc3Ny8');\n", "Pb7Xc3Ny8"},
	{"laravel database.php reads env", "credfile-php-config-password", "config/database.php", "'password' => env('DB_PASSWORD', ''),\n", ""},
	{"php config password from a request", "credfile-php-config-password", "config.php", "$password = $_POST['password'];\n", ""},

	// URIs and connection strings
	{"mongo uri", "credfile-database-uri", "config/mongo.yml", "uri: mongodb+srv://orders:Vq8Lw3Zx7Tn@cluster0.ab1cd.mongodb.net/orders\n", "Vq8Lw3Zx7Tn"},
	{"postgres url in json", "credfile-database-uri", "appsettings.Production.json", "{\"db\": \"postgresql://app:Rk5-Tz9-Hm2@db.corp.lan:5432/app\"}\n", "Rk5-Tz9-Hm2"},
	{"jdbc password parameter", "credfile-database-uri", "src/main/resources/db.xml", "<url>jdbc:mysql://db.corp.lan:3306/shop?user=shop&amp;password=Wn6Qb2Lx</url>\n", "Wn6Qb2Lx"},
	{"uri on localhost", "credfile-database-uri", "docker/dev.yml", "DATABASE_URL: postgres://app:Rk5Tz9Hm2@localhost:5432/app\n", ""},
	{"uri with a variable", "credfile-database-uri", "deploy/values.yaml", "url: mongodb://root:${MONGO_PASSWORD}@mongo:27017\n", ""},
	{"uri in source code", "credfile-database-uri", "internal/db_test.go", "const dsn = \"postgres://app:Rk5Tz9Hm2@db.corp.lan/app\"\n", ""},
	{"ado.net connection string", "credfile-connection-string-password", "Web.config",
		"<add name=\"Shop\" connectionString=\"Server=sql01;Database=Shop;User Id=shop;Password=Kt8Vw2Nq5;\" />\n", "Kt8Vw2Nq5"},
	{"connection string in appsettings", "credfile-connection-string-password", "appsettings.json", "{\"ConnectionStrings\": {\"Main\": \"Data Source=db;Initial Catalog=crm;Uid=crm;Pwd=Lz4Xr9Tb1\"}}\n", "Lz4Xr9Tb1"},
	{"connection string with integrated security", "credfile-connection-string-password", "Web.config", "<add connectionString=\"Server=sql01;Database=Shop;Integrated Security=True\" />\n", ""},
	{"connection string with a token", "credfile-connection-string-password", "appsettings.json", "{\"Main\": \"Server=db;Database=crm;Password=#{DbPassword}#\"}\n", ""},
	{"orm config json", "credfile-orm-config-password", "ormconfig.json", "{\"type\": \"postgres\", \"username\": \"app\", \"password\": \"Xn3Lq7Wz2\"}\n", "Xn3Lq7Wz2"},
	{"rails database.yml", "credfile-orm-config-password", "config/database.yml", "production:\n  adapter: postgresql\n  password: Hd8Vb4Qr1\n", "Hd8Vb4Qr1"},
	{"spring properties", "credfile-orm-config-password", "src/main/resources/application-prod.properties", "spring.datasource.password=Mq2Zx6Lt9\n", "Mq2Zx6Lt9"},
	{"hibernate xml", "credfile-orm-config-password", "hibernate.cfg.xml", "<property name=\"connection.password\">Tr5Wn1Kx8</property>\n", "Tr5Wn1Kx8"},
	{"rails database.yml from env", "credfile-orm-config-password", "config/database.yml", "production:\n  password: <%= ENV['DATABASE_PASSWORD'] %>\n", ""},
	{"spring placeholder", "credfile-orm-config-password", "application.yml", "spring:\n  datasource:\n    password: ${DB_PASSWORD}\n", ""},
	{"knexfile reads env", "credfile-orm-config-password", "knexfile.js", "connection: { user: 'app', password: process.env.DB_PASSWORD }\n", ""},

	// FTP and SFTP clients
	{"filezilla site", "credfile-filezilla-password", "backup/sitemanager.xml", "<Server><Host>ftp.corp.lan</Host><User>web</User><Pass encoding=\"base64\">Umt2OGxROXdYMw==</Pass></Server>\n", "Umt2OGxROXdYMw=="},
	{"filezilla no saved password", "credfile-filezilla-password", "sitemanager.xml", "<Server><Host>ftp.corp.lan</Host><Logontype>2</Logontype><User>web</User></Server>\n", ""},
	{"vscode sftp", "credfile-sftp-client-password", ".vscode/sftp.json", "{\"host\": \"web01.corp.lan\", \"username\": \"deploy\", \"password\": \"Wk7Rz3Nq9\"}\n", "Wk7Rz3Nq9"},
	{"sublime sftp", "credfile-sftp-client-password", "sftp-config.json", "{\"type\": \"sftp\", \"user\": \"deploy\", \"password\": \"Ty4Lp8Vx2\", \"remote_path\": \"/var/www\"}\n", "Ty4Lp8Vx2"},
	{"vscode sftp with a key", "credfile-sftp-client-password", ".vscode/sftp.json", "{\"host\": \"web01\", \"privateKeyPath\": \"~/.ssh/id_ed25519\", \"password\": \"\"}\n", ""},
	{"jetbrains webServers", "credfile-jetbrains-webservers-password", ".idea/webServers.xml",
		"<webServer id=\"1\" name=\"prod\"><fileTransfer host=\"web01\" port=\"22\" accessType=\"SFTP\" password=\"dfdcdfcfdfc8dfcedfd3dfc5\" /></webServer>\n", "dfdcdfcfdfc8dfcedfd3dfc5"},
	{"jetbrains webServers without password", "credfile-jetbrains-webservers-password", ".idea/webServers.xml", "<fileTransfer host=\"web01\" port=\"22\" accessType=\"SFTP\" keyPair=\"true\" />\n", ""},
	{"winscp session", "credfile-winscp-password", "WinSCP.ini", "[Sessions\\deploy@web01]\nHostName=web01\nPassword=A35C435B9556B1237C2F6D\n", "A35C435B9556B1237C2F6D"},
	{"winscp without password", "credfile-winscp-password", "WinSCP.ini", "[Sessions\\deploy@web01]\nHostName=web01\nUserName=deploy\n", ""},

	// IRC and mail clients
	{"irssi sasl", "credfile-irc-client-password", ".irssi/config", "servers = ( { address = \"irc.libera.chat\"; sasl_password = \"Gq5Wx1Lz7\"; } );\n", "Gq5Wx1Lz7"},
	{"hexchat servlist", "credfile-irc-client-password", ".hexchat/servlist.conf", "N=Libera\nI=botnick\nP=Nv6Tb3Kr8\n", "Nv6Tb3Kr8"},
	{"irssi nickserv identify", "credfile-irc-client-password", "irssi/config", "autosendcmd = \"/msg nickserv identify Rq2Zm8Wt4\";\n", "Rq2Zm8Wt4"},
	{"irssi without passwords", "credfile-irc-client-password", ".irssi/config", "servers = ( { address = \"irc.libera.chat\"; port = \"6697\"; use_tls = \"yes\"; } );\n", ""},
	{"msmtprc", "credfile-mail-client-password", ".msmtprc", "account work\nhost smtp.corp.lan\nuser me\npassword Yx4Qn9Lw2\n", "Yx4Qn9Lw2"},
	{"muttrc smtp_pass", "credfile-mail-client-password", ".muttrc", "set smtp_url = \"smtps://me@smtp.corp.lan\"\nset smtp_pass = \"Kb7Vr3Xz1\"\n", "Kb7Vr3Xz1"},
	{"fetchmailrc", "credfile-mail-client-password", ".fetchmailrc", "poll imap.corp.lan protocol imap user \"me\" password \"Hn2Wq6Tz9\"\n", "Hn2Wq6Tz9"},
	{"offlineimaprc", "credfile-mail-client-password", ".offlineimaprc", "[Repository remote]\nremotehost = imap.corp.lan\nremotepass = Lt8Xv4Qk2\n", "Lt8Xv4Qk2"},
	{"msmtprc passwordeval", "credfile-mail-client-password", ".msmtprc", "account work\npasswordeval \"gpg -q -d ~/.mail-pass.gpg\"\n", ""},
	{"mbsyncrc PassCmd", "credfile-mail-client-password", ".mbsyncrc", "IMAPAccount work\nPassCmd \"pass show mail/work\"\n", ""},

	// browsers
	{"firefox logins.json", "credfile-browser-logins", "profile/logins.json",
		"{\"logins\": [{\"hostname\": \"https://shop.corp.lan\", \"encryptedUsername\": \"MDIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECBx\", \"encryptedPassword\": \"MEIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECKq8Lw2Xk9Vn\"}]}\n",
		"MEIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECKq8Lw2Xk9Vn"},
	{"firefox logins.json empty", "credfile-browser-logins", "profile/logins.json", "{\"nextId\": 1, \"logins\": [], \"version\": 3}\n", ""},
	{"chrome password export", "credfile-browser-password-export", "Chrome Passwords.csv",
		"name,url,username,password\nshop.corp.lan,https://shop.corp.lan/login,me,Fw3Lq8Zx5\n", "Fw3Lq8Zx5"},
	{"password export header only", "credfile-browser-password-export", "passwords.csv", "name,url,username,password\n", ""},

	// shell startup files
	{"bashrc export", "credfile-shell-rc-export", "dotfiles/.bashrc", "alias ll='ls -l'\nexport GITHUB_TOKEN=Qz7Lw2Xk9Vn3Pm\n", "Qz7Lw2Xk9Vn3Pm"},
	{"zshrc quoted", "credfile-shell-rc-export", ".zshrc", "export OPENAI_API_KEY='Tb1Rc5Hd4Jf0Ks'\n", "Tb1Rc5Hd4Jf0Ks"},
	{"fish set -gx", "credfile-shell-rc-export", ".config/fish/config.fish", "set -gx VAULT_TOKEN Hs8Kd2Pw6Lq4\n", "Hs8Kd2Pw6Lq4"},
	{"bashrc command substitution", "credfile-shell-rc-export", ".bashrc", "export GITHUB_TOKEN=$(gh auth token)\nexport NPM_TOKEN=\"$(pass show npm)\"\n", ""},
	{"bashrc settings about secrets", "credfile-shell-rc-export", ".bashrc", "export SSH_AUTH_SOCK=/run/user/1000/keyring/ssh\nexport PASSWORD_STORE_DIR=/home/me/.password-store\n", ""},
	{"export in a script", "credfile-shell-rc-export", "scripts/env.sh", "export GITHUB_TOKEN=Qz7Lw2Xk9Vn3Pm\n", ""},
}

// credentialFilesDetector is the credential-files detector; its wants
// says which files it reads.
func credentialFilesDetector(t *testing.T) *extraDetector {
	t.Helper()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	det, err := s.extraDetector([]string{checks.RulesCredentialFiles})
	if err != nil {
		t.Fatal(err)
	}
	return det
}

// TestCredentialFileRules: each case finds its credential with its rule and
// nothing else of the rule set, or nothing of the rule set at all.
func TestCredentialFileRules(t *testing.T) {
	det := credentialFilesDetector(t)
	for _, tc := range credentialFileCases {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			var found []report.Finding
			if det.wants(tc.path) {
				//lint:ignore SA1019 the entry point the scanner uses (see collect.go)
				found = det.det.DetectContext(context.Background(), detect.Fragment{Raw: tc.content, FilePath: tc.path})
			}
			var ours []string
			for _, f := range found {
				if strings.HasPrefix(f.RuleID, "credfile-") {
					ours = append(ours, f.RuleID+" "+f.Secret)
				}
			}
			var want []string
			if tc.secret != "" {
				for _, sec := range strings.Split(tc.secret, " | ") {
					want = append(want, tc.rule+" "+sec)
				}
			}
			if !slices.Equal(ours, want) {
				t.Errorf("%s in %s: credential-files found %q, want %q", strings.TrimSpace(tc.content), tc.path, ours, want)
			}
		})
	}
}

// noKeywords are the rules without keywords: their format has no fixed word
// (pgpass, htpasswd, shadow, master.key) or its word is common in code
// ("://", "export", "pass"), so only their path is matched against every
// file (see bench/secretrules for the cost).
var noKeywords = map[string]bool{
	"credfile-git-credentials": true, "credfile-pgpass-password": true, "credfile-htpasswd-hash": true,
	"credfile-shadow-hash": true, "credfile-rails-master-key": true, "credfile-php-config-password": true,
	"credfile-irc-client-password": true, "credfile-mail-client-password": true,
	"credfile-browser-password-export": true, "credfile-shell-rc-export": true,
}

// TestCredentialFileRulesCovered: every rule of the set has a positive and
// a negative case, has a path, and (but for a file that is nothing but the
// key) keywords; every case names a rule of the set.
func TestCredentialFileRulesCovered(t *testing.T) {
	sets, err := extraRules()
	if err != nil {
		t.Fatal(err)
	}
	cfg := sets[checks.RulesCredentialFiles]
	if len(cfg.Rules) < 30 {
		t.Fatalf("credential-files has %d rules", len(cfg.Rules))
	}
	pos, neg := map[string]int{}, map[string]int{}
	for _, tc := range credentialFileCases {
		if _, ok := cfg.Rules[tc.rule]; !ok {
			t.Errorf("case %q names rule %s, not in the rule set", tc.name, tc.rule)
		}
		if tc.secret != "" {
			pos[tc.rule]++
		} else {
			neg[tc.rule]++
		}
	}
	for id, r := range cfg.Rules {
		if pos[id] == 0 || neg[id] == 0 {
			t.Errorf("%s: %d positive and %d negative cases, want at least one of each", id, pos[id], neg[id])
		}
		if r.Path == nil || r.Regex == nil {
			t.Errorf("%s: want a path and a content rule", id)
		}
		if (len(r.Keywords) == 0) != noKeywords[id] {
			t.Errorf("%s: keywords %q; the rules without keywords are %v", id, r.Keywords, noKeywords)
		}
		if len(r.Allowlists) == 0 {
			t.Errorf("%s: not covered by the placeholder allowlist", id)
		}
		if !strings.HasPrefix(id, "credfile-") || r.Description == "" {
			t.Errorf("%s: want a credfile- id and a description", id)
		}
	}
}

// TestCredentialFilesThroughRun: the rule set runs inside the secrets check
// only when the target asks for it, and its findings are redacted,
// fingerprinted and suppressed by .gitleaksignore like any other secret.
func TestCredentialFilesThroughRun(t *testing.T) {
	dir := t.TempDir()
	const secret = "Gr4nite-Owl-71"
	files := map[string]string{
		".netrc":  "machine ftp.corp.lan login backup password " + secret + "\n",
		".pgpass": "db.corp.lan:5432:orders:app:Wq9-Lm3r-Tx7\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	off, err := s.Run(context.Background(), checks.Target{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(off.Findings) != 0 {
		t.Errorf("without the rule set: %v", got(off.Findings))
	}
	ignore := checks.IgnoreFile{Name: checks.GitleaksIgnore, Content: []byte(".pgpass:credfile-pgpass-password:1\n")}
	on, err := s.Run(context.Background(), checks.Target{Dir: dir, SecretRules: []string{checks.RulesCredentialFiles}, Ignore: []checks.IgnoreFile{ignore}})
	if err != nil {
		t.Fatal(err)
	}
	if w := []want{{"credfile-netrc-password", ".netrc", 1, 1, ""}}; !slices.Equal(got(on.Findings), w) {
		t.Fatalf("findings %v, want %v", got(on.Findings), w)
	}
	f := on.Findings[0]
	if strings.Contains(f.Match, secret) || !strings.Contains(f.Match, "REDACTED") {
		t.Errorf("match %q not redacted", f.Match)
	}
	if f.Fingerprint != checks.Fingerprint(checks.Secrets, f.RuleID, ".netrc", sha256Hex(secret)) {
		t.Errorf("fingerprint %s is not the secret's", f.Fingerprint)
	}
	if len(on.Suppressed) != 1 || on.Suppressed[0].Finding.RuleID != "credfile-pgpass-password" || on.Suppressed[0].Via != checks.ViaIgnoreFile {
		t.Errorf("suppressed %+v, want the .pgpass finding by .gitleaksignore", on.Suppressed)
	}
	if on.Engine != off.Engine {
		t.Errorf("engine %+v with the rule set, %+v without: the cache learns one engine per check", on.Engine, off.Engine)
	}
	if !slices.Contains(on.Scope.Notes, "extra rules: credential-files, besides gitleaks' default rules") {
		t.Errorf("notes %q do not say the rule set ran", on.Scope.Notes)
	}
	if _, err := s.Run(context.Background(), checks.Target{Dir: dir, SecretRules: []string{"no-such-rules"}}); err == nil {
		t.Error("an unknown rule set ran")
	}
}

// TestCredentialFilesInHistory: in git mode (a pull request's commits) the
// rule set reads the lines the range adds, a credential added and removed
// again included.
func TestCredentialFilesInHistory(t *testing.T) {
	dir := gittest.New(t)
	base := gittest.Commit(t, dir, "base", map[string]string{"README.md": "hello\n"})
	added := gittest.Commit(t, dir, "add a pgpass", map[string]string{".pgpass": "db.corp.lan:5432:orders:app:Wq9-Lm3r-Tx7\n"})
	gittest.Remove(t, dir, "remove it", ".pgpass")
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	target := checks.Target{Dir: dir, BaseRev: base, HeadRev: "HEAD"}
	if res := run(t, s, target); len(res.Findings) != 0 {
		t.Errorf("without the rule set: %v", got(res.Findings))
	}
	target.SecretRules = []string{checks.RulesCredentialFiles}
	res := run(t, s, target)
	if w := []want{{"credfile-pgpass-password", ".pgpass", 1, 1, added}}; !slices.Equal(got(res.Findings), w) {
		t.Errorf("findings %v, want %v", got(res.Findings), w)
	}
}
