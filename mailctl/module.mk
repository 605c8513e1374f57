$(eval $(call program,mailctl,mailctl,-lpq -lz -lrnp -ljansson -lcurl,smtpd deliverd))
