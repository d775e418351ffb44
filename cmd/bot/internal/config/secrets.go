package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Password reads account i's password from its environment variable or
// file. Errors name the key and the variable or file, never the value.
func (c *Config) Password(i int, getenv Getenv) (string, error) {
	a := c.Accounts[i]
	key := fmt.Sprintf("accounts[%d]", i)
	return c.secret(key+".password_env", a.PasswordEnv, key+".password_file", a.PasswordFile, getenv)
}

// AdminToken reads the admin token; "" when none is configured.
func (c *Config) AdminToken(getenv Getenv) (string, error) {
	if c.Admin.TokenEnv == "" && c.Admin.TokenFile == "" {
		return "", nil
	}
	return c.secret("admin.token_env", c.Admin.TokenEnv, "admin.token_file", c.Admin.TokenFile, getenv)
}

func (c *Config) secret(envKey, env, fileKey, file string, getenv Getenv) (string, error) {
	if env != "" {
		v := getenv(env)
		if v == "" {
			return "", &FieldError{Pos: c.Pos(envKey), Key: envKey, Msg: fmt.Sprintf("environment variable %s is not set or empty", env)}
		}
		return v, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", &FieldError{Pos: c.Pos(fileKey), Key: fileKey, Msg: fmt.Sprintf("cannot read %s: %v", file, unwrapPathError(err))}
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", &FieldError{Pos: c.Pos(fileKey), Key: fileKey, Msg: fmt.Sprintf("%s is empty", file)}
	}
	return v, nil
}

// CAFiles checks that every account's ca_file holds PEM certificates.
// Errors name the key and the file.
func (c *Config) CAFiles() error {
	var errs []error
	for i, a := range c.Accounts {
		if a.CAFile == "" {
			continue
		}
		key := fmt.Sprintf("accounts[%d].ca_file", i)
		b, err := os.ReadFile(a.CAFile)
		if err != nil {
			errs = append(errs, &FieldError{Pos: c.Pos(key), Key: key, Msg: fmt.Sprintf("cannot read %s: %v", a.CAFile, unwrapPathError(err))})
			continue
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			errs = append(errs, &FieldError{Pos: c.Pos(key), Key: key, Msg: fmt.Sprintf("%s holds no PEM certificate", a.CAFile)})
		}
	}
	return errors.Join(errs...)
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
